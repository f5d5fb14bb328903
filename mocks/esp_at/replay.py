"""Replay: play the module's side of a recorded transcript (``netsocket.transcript``) to whatever host talks to it.

Layers: `Replay` is the sans-IO core (host bytes and the clock in; module bytes, deadlines and a divergence out);
`ReplayPlayer` runs it on a transport in one daemon thread, like `Emulator` does with the device model.

The transcript is cut into steps: the bytes the host sent between two answers of the module, then what the module
said next, each chunk with its delay after the host's last byte (scaled by ``timescale``). A step's answer starts
once the host sent all of its bytes; if the host goes on before the answer is out, the rest of it goes out at once.

Matching is exact by default: the host's bytes must be the recorded ones, except where the recorder masked a secret
(``MASK``: any value, quoted or not). ``lenient`` tolerates what does not change the conversation: the link id
(first parameter of ``AT+CIPSTART``/``CIPSEND``/``CIPSENDEX``/``CIPCLOSE``/``CIPRECVDATA``; the module's answers are
rewritten to the host's id), port numbers (``AT+CIPSTART``'s remote and local port, ``AT+CIPSERVER``'s, a UDP
``AT+CIPSEND``'s remote port), and the order of independent commands (a command line recorded up to
`REORDER_WINDOW` steps later is answered now).

Passive reads (``AT+CIPRECVDATA``) are no steps: their length depends on when the application reads, so the replay
answers them from a model of the links' buffers (`replay_reads`), in exact mode too.

A divergence (bytes the transcript does not hold there, a line left unfinished for ``stall_timeout``, anything after
the end of the transcript) stops the replay with a message naming the expected and the received line.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from netsocket.transcript import MASK, Transcript, read_transcript

from .replay_reads import READ_LINE, Key, LinkBuffers, Piece, Recorded, split_reads
from .transport import Transport

log = logging.getLogger(__name__)

REORDER_WINDOW = 4
STALL_TIMEOUT = 1.0
"""How long a host line may stay unfinished before the replay calls it a divergence."""
LINE_WAIT = 0.3
"""After a mismatch, how long to wait for the rest of the host's line so the message can show all of it."""

_LINK_COMMANDS = (b"AT+CIPSTART=", b"AT+CIPSEND=", b"AT+CIPSENDEX=", b"AT+CIPCLOSE=", b"AT+CIPRECVDATA=")
_READ_START = b"AT+CIPRECVDATA="
_names = itertools.count(1)


@dataclass
class _Queued:
    at: float
    piece: Piece
    forced: bool = False
    """Out when due, whatever the host has read (the host went on to the next step)."""
    mapped: bool = False
    """Its link ids are the host's already."""


@dataclass
class _Step:
    index: int
    expect: bytes
    line: int = 1
    """The transcript line of the step's first host chunk (the header is line 1)."""
    outputs: list[tuple[float, Piece]] = field(default_factory=list)
    """(delay after the host's last byte of this step, what the module says)"""
    gate: dict[Key, int] | None = None
    """A read played as recorded (`split_reads`): the host's reads go to the buffers until it read this much."""


def build_steps(transcript: Transcript | Recorded) -> list[_Step]:
    """Cut a transcript into steps; step 0 expects nothing (what the module says before the host speaks). The host's
    passive reads are not steps (`split_reads`): the replay answers them from its model of the links' buffers."""
    recorded = transcript if isinstance(transcript, Recorded) else split_reads(transcript)
    steps = [_Step(0, b"")]
    anchor = 0.0
    for event in recorded.events:
        step = steps[-1]
        if event.direction == "host":
            line = event.line
            if step.outputs or (step.index > 0 and not step.expect):
                step = _Step(len(steps), b"", line)
                steps.append(step)
            elif not step.expect:
                step.line = line
            if not step.expect:
                step.gate = event.gate
            step.expect += event.data
            anchor = event.t
        else:
            step.outputs.extend((max(0.0, event.t - anchor), piece) for piece in event.pieces)
    if len(steps) > 1 and not steps[0].outputs:
        steps.pop(0)
        for number, step in enumerate(steps):
            step.index = number
    return steps


def _show(data: bytes, limit: int = 120) -> str:
    text = repr(bytes(data[:limit]))[1:]
    return text + ("..." if len(data) > limit else "")


def _line_around(data: bytes, pos: int) -> bytes:
    start = data.rfind(b"\n", 0, pos) + 1
    end = data.find(b"\n", pos)
    return data[start : len(data) if end < 0 else end + 1]


def _quoted_body_end(data: bytes, pos: int) -> int:
    """Index of the closing quote of an AT quoted string whose body starts at ``pos``; -1 if not there yet."""
    i = pos
    while i < len(data):
        byte = data[i : i + 1]
        if byte == b"\\":
            i += 2
            continue
        if byte == b'"':
            return i
        if byte in (b"\r", b"\n"):
            return -2
        i += 1
    return -1


def match_prefix(expect: bytes, received: bytes) -> tuple[str, int, int]:
    """Compare what arrived with what is expected, `MASK` standing for any value.

    Returns ``(status, received_pos, expected_pos)``: ``"full"`` (all of ``expect`` matched, ``received_pos``
    bytes used), ``"partial"`` (consistent so far, more needed) or ``"mismatch"`` (at those positions).
    """
    pieces = expect.split(MASK)
    rpos = 0
    epos = 0
    for number, piece in enumerate(pieces):
        if number > 0:
            epos += len(MASK)
            if pieces[number - 1].endswith(b'"'):
                end = _quoted_body_end(received, rpos)
                if end == -1:
                    return "partial", len(received), epos
                if end == -2:
                    return "mismatch", rpos, epos
                rpos = end
            else:
                found = received.find(piece[:1], rpos) if piece else len(received)
                if found < 0:
                    line_end = received.find(b"\n", rpos)
                    return ("partial", len(received), epos) if line_end < 0 else ("mismatch", line_end, epos)
                rpos = found
        have = received[rpos : rpos + len(piece)]
        if have != piece[: len(have)]:
            k = next(k for k, byte in enumerate(have) if byte != piece[k])
            return "mismatch", rpos + k, epos + k
        if len(have) < len(piece):
            return "partial", len(received), epos + len(have)
        rpos += len(piece)
        epos += len(piece)
    return "full", rpos, epos


_NUMBER = re.compile(rb"\d+")


def _lenient_template(line: bytes) -> tuple[bytes, int | None]:
    """A command line with its link id and port numbers blanked (the recorded link id returned apart)."""
    body = line.rstrip(b"\r\n")
    name, eq, args = body.partition(b"=")
    if not eq:
        return body, None
    params = args.split(b",")
    link: int | None = None
    upper = name.upper() + b"="
    if upper in _LINK_COMMANDS and params and params[0].isdigit() and (upper != b"AT+CIPSTART=" or len(params) > 3):
        link = int(params[0])
        params[0] = b"#"
    if upper == b"AT+CIPSTART=":
        proto_at = 1 if link is not None else 0
        for index in (proto_at + 2, proto_at + 3):
            if index < len(params) and params[index].isdigit():
                params[index] = b"#"
    elif upper == b"AT+CIPSERVER=" and len(params) > 1 and params[1].isdigit():
        params[1] = b"#"
    elif upper == b"AT+CIPRECVDATA=" and len(params) == 2:
        params[1] = b"#"  # a read played as recorded: the length is the host's
    elif upper in (b"AT+CIPSEND=", b"AT+CIPSENDEX=") and len(params) == 4 and params[3].isdigit():
        params[3] = b"#"  # a UDP datagram's remote port
    return name.upper() + eq + b",".join(params), link


class Replay:
    """The sans-IO core: feed host bytes with `receive`, collect module bytes with `take_output`."""

    def __init__(
        self,
        transcript: Transcript,
        *,
        timescale: float = 1.0,
        lenient: bool = False,
        stall_timeout: float = STALL_TIMEOUT,
        source: str = "transcript",
    ) -> None:
        if timescale < 0:
            raise ValueError("timescale must not be negative")
        recorded = split_reads(transcript)
        self._steps = build_steps(recorded)
        self._buffers = LinkBuffers(recorded)
        self._timescale = timescale
        self._lenient = lenient
        self._stall_timeout = stall_timeout
        self._source = source
        self._position = 0  # steps before this one are answered
        self._consumed = 0  # bytes of the current step's expectation already matched
        self._received = bytearray()
        self._last_rx = 0.0
        self._queue: list[_Queued] = []
        self._mismatch_at: float | None = None
        self._links: dict[int, int] = {}  # recorded link id -> the host's
        self.divergence: str | None = None

    # -- input and output -----------------------------------------------------------------------------------------
    def start(self, now: float) -> None:
        """The port opened: what the module said before the host's first byte (a boot ``ready``) starts now, so
        that the host reads it before it speaks, as it did in the recording."""
        if self._steps and not self._steps[0].expect:
            first = self._steps[0]
            if first.outputs:
                skip = first.outputs[0][0]
                first.outputs = [(delay - skip, data) for delay, data in first.outputs]
            self._answer(first, now)
            self._position = 1

    def receive(self, data: bytes, now: float) -> None:
        if self.divergence is not None or not data:
            return
        self._received += data
        self._last_rx = now
        self._advance(now)

    def tick(self, now: float) -> None:
        if self.divergence is not None:
            return
        if (self._mismatch_at is not None and now >= self._mismatch_at + LINE_WAIT) or (
            self._received and now >= self._last_rx + self._stall_timeout
        ):
            self._advance(now, give_up=True)

    def take_output(self, now: float) -> bytes:
        out = bytearray()
        while self._queue and self._queue[0].at <= now and self._due(self._queue[0]):
            queued = self._queue.pop(0)
            data = self._buffers.render(queued.piece)
            out += data if queued.mapped else self._map_links(data)
        return bytes(out)

    def _due(self, queued: _Queued) -> bool:
        return queued.forced or self._buffers.gate_open(queued.piece.gate)

    def next_deadline(self) -> float | None:
        # a piece waiting for the host to read comes out of `receive`, not of the clock
        times = [self._queue[0].at] if self._queue and self._due(self._queue[0]) else []
        if self._mismatch_at is not None:
            times.append(self._mismatch_at + LINE_WAIT)
        elif self._received:
            times.append(self._last_rx + self._stall_timeout)
        return min(times) if times else None

    @property
    def finished(self) -> bool:
        """Every step was answered and every answer went out."""
        return self._position >= len(self._steps) and not self._queue

    # -- matching -------------------------------------------------------------------------------------------------
    def _answer(self, step: _Step, now: float) -> None:
        at = max([now] + [q.at for q in self._queue[-1:]])
        for delay, piece in step.outputs:
            at = max(at, now + delay * self._timescale)
            self._queue.append(_Queued(at, piece))

    def _advance(self, now: float, give_up: bool = False) -> None:
        while self._received and self.divergence is None:
            step = self._steps[self._position] if self._position < len(self._steps) else None
            if self._consumed == 0 and _READ_START.startswith(bytes(self._received[: len(_READ_START)])):
                served = self._serve_read(step, now, give_up)
                if served is None:
                    return
                if served:
                    continue
            if step is None:
                self._diverge(
                    f"the host sent {_show(bytes(self._received))} after the end of the {self._source}",
                )
                return
            expect = step.expect[self._consumed :]
            if self._lenient and expect[:2].upper() == b"AT" and b"\n" in expect:
                if not self._advance_lenient_line(step, expect, now, give_up):
                    return
                continue
            status, rpos, epos = match_prefix(expect, bytes(self._received))
            if status == "full":
                self._complete(step, rpos, now)
            elif status == "partial":
                self._consume_partial(step, rpos)
                if give_up:
                    self._diverge_at(step, expect, epos, "stopped in the middle of a line")
                return
            else:
                line_done = b"\n" in self._received[rpos:]
                if not (line_done or give_up):
                    if self._mismatch_at is None:
                        self._mismatch_at = now
                    return
                self._diverge_at(step, expect, epos, "sent something else", rpos)
                return

    def _serve_read(self, step: _Step | None, now: float, give_up: bool) -> bool | None:
        """Answer a passive read from the links' buffers: True when it was one, False when the line is another
        command, None when matching has to stop (the line is unfinished, or the read diverges). ``step`` is the
        one the host is at (None after the end of the transcript)."""
        end = self._received.find(b"\n")
        if end < 0:
            if give_up and step is not None:
                self._diverge_at(step, step.expect, 0, "stopped in the middle of a line")
            elif give_up:
                self._diverge(f"the host sent {_show(bytes(self._received))} after the end of the {self._source}")
            return None
        line = bytes(self._received[: end + 1])
        read = READ_LINE.fullmatch(line)
        if read is None or (step is not None and step.gate is not None and self._buffers.gate_open(step.gate)):
            return False
        host_link = int(read[1])
        link = next((rec for rec, host in self._links.items() if host == host_link), host_link)
        if not self._buffers.knows(link):
            if step is None:
                self._diverge(f"the host sent {_show(line)} after the end of the {self._source}")
            else:
                self._diverge_at(step, step.expect, 0, "read from a link the transcript never read", 0)
            return None
        del self._received[: end + 1]
        self._mismatch_at = None
        # what the module had to say before this read (as far as the host has read) goes out first, at once, and
        # what it says about the buffers counts for the answer
        before = bytearray()
        while self._queue and self._due(self._queue[0]):
            queued = self._queue.pop(0)
            data = self._buffers.render(queued.piece)
            before += data if queued.mapped else self._map_links(data)
        answer, notice = self._buffers.read(link, int(read[2]))
        # the payload is the application's bytes: only the notice has link ids to rewrite
        out = bytes(before) + answer + self._map_links(notice)
        self._queue.insert(0, _Queued(now, Piece("bytes", out), forced=True, mapped=True))
        return True

    def _consume_partial(self, step: _Step, rpos: int) -> None:
        """Keep a partial match of a payload (no line structure) from growing the buffer without bound."""
        if MASK not in step.expect and rpos == len(self._received) and rpos > 4096:
            self._consumed += rpos
            del self._received[:rpos]

    def _complete(self, step: _Step, used: int, now: float) -> None:
        del self._received[:used]
        self._mismatch_at = None
        # anything still queued was due before the host went on: it goes out at once, read or not
        self._queue = [_Queued(min(q.at, now), q.piece, forced=True) for q in self._queue]
        self._answer(step, now)
        self._position += 1
        self._consumed = 0

    def _advance_lenient_line(self, step: _Step, expect: bytes, now: float, give_up: bool) -> bool:
        """Match one whole command line leniently; False when matching has to stop (more bytes needed, or a
        divergence)."""
        end = self._received.find(b"\n")
        if end < 0:
            if give_up:
                self._diverge_at(step, expect, 0, "stopped in the middle of a line")
            return False
        got = bytes(self._received[: end + 1])
        want_end = expect.find(b"\n") + 1
        want = expect[:want_end]
        if self._lenient_equal(want, got):
            del self._received[: end + 1]
            if want_end == len(expect):
                self._complete(step, 0, now)
            else:
                self._consumed += want_end
            return True
        if self._consumed == 0 and want_end == len(expect):
            window = self._steps[self._position + 1 : self._position + 1 + REORDER_WINDOW]
            for later in window:
                one_line = later.expect.endswith(b"\n") and later.expect.count(b"\n") == 1
                if one_line and self._lenient_equal(later.expect, got):
                    self._steps.remove(later)
                    self._steps.insert(self._position, later)
                    del self._received[: end + 1]
                    self._complete(later, 0, now)
                    return True
        self._diverge_at(step, expect, 0, "sent something else", 0)
        return False

    def _lenient_equal(self, want: bytes, got: bytes) -> bool:
        status, used, _ = match_prefix(want, got)
        if status == "full" and used == len(got):
            return True
        want_template, want_link = _lenient_template(want)
        got_template, got_link = _lenient_template(got)
        status, used, _ = match_prefix(want_template, got_template)
        if status != "full" or used != len(got_template):
            return False
        if want_link is not None and got_link is not None:
            self._links[want_link] = got_link
        return True

    def _map_links(self, data: bytes) -> bytes:
        if not self._links or all(k == v for k, v in self._links.items()):
            return data

        def ipd(match: re.Match[bytes]) -> bytes:
            link = int(match.group(2))
            return match.group(1) + str(self._links.get(link, link)).encode()

        data = re.sub(rb"(\+IPD,|\+CIPSTATUS:)(\d)", ipd, data)
        return re.sub(
            rb"(^|\n)(\d)(?=,(?:CONNECT|CLOSED))",
            lambda m: m.group(1) + str(self._links.get(int(m.group(2)), int(m.group(2)))).encode(),
            data,
        )

    def _diverge_at(self, step: _Step, expect: bytes, epos: int, how: str, rpos: int | None = None) -> None:
        received = bytes(self._received)
        want = _line_around(expect, min(epos, max(len(expect) - 1, 0)))
        got = _line_around(received, min(rpos, len(received) - 1)) if rpos is not None and received else received
        self._diverge(
            f"at line {step.line} of the {self._source}, the host {how}: expected {_show(want)}, received {_show(got)}"
        )

    def _diverge(self, message: str) -> None:
        self.divergence = "replay diverged: " + message
        self._queue.clear()


class ReplayPlayer:
    """A `Replay` serving one transport from a daemon thread; closing it stops the thread and the transport.

    On a divergence the player logs it at ERROR, keeps it in `divergence` and closes the transport, so the host's
    next read fails at once (the ``espemu://`` port raises ``SerialException`` with the message)."""

    def __init__(
        self,
        replay: Replay,
        transport: Transport,
        *,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replay = replay
        self.name = name or f"replay-{next(_names)}"
        self._transport = transport
        self._clock = clock
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._unsent = b""
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"espemu:{self.name}", daemon=True)

    @property
    def divergence(self) -> str | None:
        return self.replay.divergence

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> ReplayPlayer:
        self.replay.start(self._clock())
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._transport.close()
            self._wake_r.close()
            self._wake_w.close()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            log.exception("replay %s stopped on an internal error", self.name)
        finally:
            if self.replay.divergence is not None:
                log.error("%s: %s", self.name, self.replay.divergence)
                with self._lock:
                    if not self._closed:
                        self._closed = True
                        self._transport.close()  # the host's reads fail now, not at its own deadline
                        self._wake_r.close()
                        self._wake_w.close()

    def _loop(self) -> None:
        fd = self._transport.fileno()
        replay = self.replay
        while not self._stop.is_set() and replay.divergence is None:
            now = self._clock()
            deadline = replay.next_deadline()
            timeout = 0.2 if deadline is None else min(0.2, max(0.0, deadline - now))
            writers = [fd] if self._unsent else []
            try:
                readable, _, _ = select.select([self._wake_r.fileno(), fd], writers, [], timeout)
            except (OSError, ValueError):
                return
            if self._stop.is_set():
                return
            if self._wake_r.fileno() in readable:
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(4096)
            now = self._clock()
            if fd in readable:
                data = self._transport.read(4096)
                if data == b"":
                    return  # the host closed its end
                if data:
                    replay.receive(data, now)
            replay.tick(now)
            if replay.divergence is not None:
                return
            self._unsent += replay.take_output(now)
            if self._unsent:
                try:
                    sent = self._transport.write(self._unsent)
                except OSError:
                    return
                self._unsent = self._unsent[sent:]


def start_replay(
    path: str, transport: Transport, *, timescale: float = 1.0, lenient: bool = False, name: str | None = None
) -> ReplayPlayer:
    """Read the transcript at ``path`` and serve it on ``transport`` (raises OSError or `TranscriptError`)."""
    replay = Replay(read_transcript(path), timescale=timescale, lenient=lenient, source=f"transcript {path}")
    return ReplayPlayer(replay, transport, name=name).start()
