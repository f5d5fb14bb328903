"""The sans-IO model on its own: fuzzed input never breaks it, and rules that need a controlled clock."""

from __future__ import annotations

import itertools
import re
from dataclasses import fields, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netsocket.mocks.esp_at import EspAtDevice, Faults, Timing, get_profile
from netsocket.mocks.esp_at.atline import Form, ParseError, parse_line

from .fakenet import FakeConnection, FakeNetwork

PROFILE_NAMES = ["nonos17", "at22_8266", "at3_esp32"]


def _timing(**overrides: float) -> Timing:
    zero = {f.name: 0.0 for f in fields(Timing) if f.name not in ("timescale", "uart_drain_rate")}
    return replace(Timing(**zero), **overrides)


class Clocked:
    def __init__(self, profile: str = "at22_8266", **timing: float) -> None:
        self.net = FakeNetwork()
        self.dev = EspAtDevice(get_profile(profile), self.net, timing=_timing(**timing), boot=False, seed=9)
        self.now = 0.0
        self.dev.echo = False

    def feed(self, data: bytes) -> bytes:
        self.dev.receive(data, self.now)
        return self.dev.take_output()

    def advance(self, seconds: float) -> bytes:
        out = bytearray()
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + 0.01)
            self.dev.tick(self.now)
            out += self.dev.take_output()
        return bytes(out)

    def run(self, line: bytes) -> bytes:
        return self.feed(line + b"\r\n") + self.advance(0.05)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PROFILE_NAMES), st.lists(st.binary(max_size=300), max_size=6))
def test_fuzzed_input_never_raises_and_the_module_recovers(profile: str, chunks: list[bytes]) -> None:
    rig = Clocked(profile)
    for chunk in chunks:
        rig.feed(chunk)
        rig.advance(0.02)
    out = b""
    for _ in range(10):
        out += rig.run(b"\r\n+++")  # ends a data phase, if the noise started one
        out += rig.advance(0.1)
        out += rig.run(b"\r\nAT")
        if out.endswith(b"\r\nOK\r\n"):
            break
    assert out.endswith(b"\r\nOK\r\n")


def test_parse_line_forms_and_escapes() -> None:
    cmd = parse_line(b'AT+CWJAP="ab\\\\\\,c","0123456789\\"\\\\",,1', lowercase_prefix_ok=False)
    assert cmd.name == "CWJAP" and cmd.form is Form.SET
    assert [p.text for p in cmd.params] == ["ab\\,c", '0123456789"\\', "", "1"]
    assert parse_line(b"AT+CWMODE?", lowercase_prefix_ok=False).form is Form.QUERY
    assert parse_line(b"AT+CWMODE=?", lowercase_prefix_ok=False).form is Form.TEST
    assert parse_line(b"at+gmr", lowercase_prefix_ok=True).name == "GMR"
    for bad in (b"at+gmr", b'AT+CWJAP="x', b"AT+CWMODE= 1", b"XX", b"AT+=1"):
        try:
            parse_line(bad, lowercase_prefix_ok=False)
        except ParseError:
            continue
        raise AssertionError(f"{bad!r} parsed")


def test_join_timing_and_busy_window_at_real_scale() -> None:
    rig = Clocked(join_to_connected=1.2, connected_to_got_ip=0.8)
    assert rig.feed(b'AT+CWJAP="netsocket-wpa2","netsocket123"\r\n') == b""
    assert rig.advance(1.0) == b""
    assert rig.feed(b"AT\r\n") == b"\r\nbusy p...\r\n"
    assert rig.advance(0.25) == b"WIFI CONNECTED\r\n"
    assert rig.advance(0.8) == b"WIFI GOT IP\r\n\r\nOK\r\n"


def test_syslog_prefixes_busy_with_err_code() -> None:
    rig = Clocked(scan=1.0)
    rig.run(b"AT+SYSLOG=1")
    rig.feed(b"AT+CWLAP\r\n")
    assert rig.feed(b"AT\r\n") == b"ERR CODE:0x010b0000\r\n\r\nbusy p...\r\n"


def test_sysmsg_bit1_reports_link_conn() -> None:
    rig = Clocked()
    for line in (b"AT+CIPMUX=1", b'AT+CWJAP="netsocket-open",""', b"AT+SYSMSG=2"):
        rig.run(line)
    out = rig.run(b'AT+CIPSTART=0,"TCP","127.0.0.1",80')
    assert out == b'+LINK_CONN:0,0,"TCP",0,"127.0.0.1",80,4000\r\n\r\nOK\r\n'


def test_unreachable_connect_is_slow_and_busy() -> None:
    rig = Clocked(unreachable=5.0)
    for line in (b"AT+CIPMUX=1", b'AT+CWJAP="netsocket-open",""'):
        rig.run(line)
    rig.feed(b'AT+CIPSTART=0,"TCP","10.1.2.3",80\r\n')
    assert rig.advance(4.9) == b""
    assert rig.feed(b"AT\r\n") == b"\r\nbusy p...\r\n"
    assert rig.advance(0.2) == b"\r\nERROR\r\n0,CLOSED\r\n"
    assert rig.net.connections == []  # never touched the network


def test_cipsto_closes_idle_server_clients() -> None:
    rig = Clocked()
    for line in (b"AT+CIPMUX=1", b'AT+CWJAP="netsocket-open",""', b"AT+CIPSERVER=1,8080", b"AT+CIPSTO=2"):
        rig.run(line)
    rig.net.listeners[0].pending.append(FakeConnection())
    assert rig.advance(0.05) == b"0,CONNECT\r\n"
    assert rig.advance(1.5) == b""
    assert rig.advance(1.0) == b"0,CLOSED\r\n"


def test_restore_closes_links_and_forgets_the_ap() -> None:
    rig = Clocked(reset_to_ready=0.5, boot_to_autoconnect=1.0)
    for line in (b"AT+CIPMUX=1", b'AT+CWJAP="netsocket-open",""', b'AT+CIPSTART=3,"TCP","127.0.0.1",80'):
        rig.run(line)
    assert rig.run(b"AT+RESTORE") == b"3,CLOSED\r\n\r\nOK\r\n"
    assert rig.advance(3.0) == b"\r\nready\r\n"  # no auto-connect: the stored AP is gone


def test_nonos_crash_text_then_boot() -> None:
    rig = Clocked("nonos17", reset_to_ready=0.5)
    rig.dev.inject_reset(rig.now)
    out = rig.dev.take_output() + rig.advance(1.0)
    assert b"\r\nSoft WDT reset\r\n\r\n ets Jan  8 2013" in out
    assert out.endswith(b"\r\nready\r\n")


def test_passive_udp_sums_datagrams_and_partial_read_loses_the_rest() -> None:
    rig = Clocked()
    for line in (b"AT+CIPMUX=1", b'AT+CWJAP="netsocket-open",""', b"AT+CIPRECVMODE=1"):
        rig.run(line)
    rig.run(b'AT+CIPSTART=0,"UDP","127.0.0.1",9000')
    link = rig.dev.links[0]
    link.datagrams.extend([(b"first", "127.0.0.1", 9000), (b"second", "127.0.0.1", 9000)])
    rig.dev.notice(link)
    assert rig.dev.take_output() == b"\r\n+IPD,0,11\r\n"
    assert rig.run(b"AT+CIPRECVDATA=0,7") == b"+CIPRECVDATA:7,firstse\r\nOK\r\n"
    assert rig.run(b"AT+CIPRECVDATA=0,7") == b"\r\nERROR\r\n"


def _passthrough_rig() -> tuple[Clocked, FakeConnection]:
    rig = Clocked(plus_guard=0.02)
    for line in (b'AT+CWJAP="netsocket-open",""', b'AT+CIPSTART="TCP","127.0.0.1",80', b"AT+CIPMODE=1"):
        rig.run(line)
    assert rig.run(b"AT+CIPSEND") == b"\r\nOK\r\n\r\n>"
    return rig, rig.net.connections[0]


def test_passthrough_payload_raw_data_and_guarded_plus_exit() -> None:
    rig, conn = _passthrough_rig()
    rig.feed(b"AT\r\n+++ is payload here")
    assert conn.sent == b""  # held until 20 ms of UART silence
    rig.advance(0.03)
    assert conn.sent == b"AT\r\n+++ is payload here"
    conn.incoming.append(b"raw reply")
    assert rig.advance(0.01) == b"raw reply"  # no +IPD framing
    rig.feed(b"+++")
    assert rig.advance(0.03) == b""  # silent exit
    assert conn.sent == b"AT\r\n+++ is payload here"
    assert rig.run(b"AT+CIPMODE?") == b"+CIPMODE:1\r\n\r\nOK\r\n"


def test_passthrough_plus_without_guard_is_payload() -> None:
    rig, conn = _passthrough_rig()
    rig.feed(b"x")
    rig.feed(b"+++")  # no silence before the pluses
    rig.advance(0.03)
    assert conn.sent == b"x+++"
    rig.run(b"AT+SYSMSG=1")  # still payload: we are in passthrough
    rig.advance(0.03)
    assert conn.sent.endswith(b"AT+SYSMSG=1\r\n")


def test_passthrough_exit_prints_quitt_with_sysmsg_bit0() -> None:
    rig = Clocked(plus_guard=0.02)
    rig.run(b"AT+SYSMSG=1")
    for line in (b'AT+CWJAP="netsocket-open",""', b'AT+CIPSTART="TCP","127.0.0.1",80', b"AT+CIPMODE=1"):
        rig.run(line)
    rig.run(b"AT+CIPSEND")
    rig.advance(0.05)
    rig.feed(b"+++")
    assert rig.advance(0.03) == b"+QUITT\r\n"


def test_cipmode_interlocks() -> None:
    rig = Clocked()
    rig.run(b"AT+CIPMUX=1")
    assert rig.run(b"AT+CIPMODE=1") == b"\r\nERROR\r\n"
    rig.run(b"AT+CIPMUX=0")
    rig.run(b"AT+CIPMODE=1")
    assert rig.run(b"AT+CIPMUX=1") == b"IPMODE must be 0\r\n\r\nERROR\r\n"
    assert rig.run(b"AT+CIPSEND") == b"\r\nERROR\r\n"  # no link open


def _linked(profile: str, mux: bool = True, **timing: float) -> tuple[Clocked, FakeConnection]:
    rig = Clocked(profile, **timing)
    rig.run(b"AT+CIPMUX=1" if mux else b"AT+CIPMUX=0")
    rig.run(b'AT+CWJAP="netsocket-open",""' if profile != "nonos17" else b'AT+CWJAP_CUR="netsocket-open",""')
    rig.run(b'AT+CIPSTART=0,"TCP","127.0.0.1",80')
    return rig, rig.net.connections[0]


def test_send_ok_waits_for_the_ack_on_nonos_only() -> None:
    for profile, expect_busy in (("nonos17", b"\r\nbusy s...\r\n"), ("at22_8266", b"\r\nbusy p...\r\n")):
        rig, _ = _linked(profile, send_ok=0.002, send_ok_rtt=0.2)
        rig.run(b"AT+CIPSEND=0,1")
        assert rig.feed(b"z") == b"\r\nRecv 1 bytes\r\n"
        assert rig.feed(b"AT\r\n") == expect_busy
        wait = 0.15 if profile == "nonos17" else 0.0
        assert rig.advance(wait) == b""
        assert rig.advance(0.06) == b"\r\nSEND OK\r\n"


@pytest.mark.parametrize(("profile", "sizes"), [("at22_8266", [1460, 1460, 1460, 620]), ("at3_esp32", [2920, 2080])])
def test_large_data_is_split_into_several_ipds(profile: str, sizes: list[int]) -> None:
    rig, conn = _linked(profile)
    conn.incoming.append(bytes(5000))
    out = rig.advance(0.1)
    assert [int(n) for n in re.findall(rb"\+IPD,0,(\d+):", out)] == sizes


def test_nonos_passive_mode_covers_tcp_only() -> None:
    rig = Clocked("nonos17")
    for line in (b"AT+CIPMUX=1", b'AT+CWJAP_CUR="netsocket-open",""', b"AT+CIPRECVMODE=1"):
        rig.run(line)
    rig.run(b'AT+CIPSTART=1,"UDP","127.0.0.1",9000')
    assert not rig.dev.is_passive(rig.dev.links[1])
    rig.run(b'AT+CIPSTART=2,"TCP","127.0.0.1",80')
    assert rig.dev.is_passive(rig.dev.links[2])


def test_recvlen_inactive_value_is_switchable() -> None:
    dev = EspAtDevice(get_profile("at22_8266"), FakeNetwork(), timing=_timing(), boot=False, recvlen_inactive=0)
    dev.echo = False
    dev.receive(b"AT+CIPRECVLEN?\r\n", 0.0)
    assert dev.take_output() == b"+CIPRECVLEN:0,0,0,0,0\r\n\r\nOK\r\n"


def test_uart_cur_switches_baud_only_after_its_ok() -> None:
    rig = Clocked()
    assert rig.run(b"AT+UART_CUR=230400,8,1,0,0") == b"\r\nOK\r\n"
    assert rig.dev.take_baud_change() == 230400
    assert rig.dev.take_baud_change() is None


def test_passive_udp_burst_is_announced_per_arrival() -> None:
    """Two datagrams that reach the module together: the notice gives the first one's length (the firmware prints it
    as that datagram arrives), so a host that reads what was announced gets each datagram whole; only the notice
    after a read sums what is left (esp-at #451)."""
    rig = Clocked()
    for line in (b"AT+CIPMUX=1", b'AT+CWJAP="netsocket-open",""', b"AT+CIPRECVMODE=1", b"AT+CIPDINFO=1"):
        rig.run(line)
    rig.run(b'AT+CIPSTART=0,"UDP","127.0.0.1",9000,0,2')
    conn = rig.net.connections[0]
    conn.datagrams.extend([(b"from the other server", "127.0.0.1", 9001), (b"from the peer", "127.0.0.1", 9000)])
    assert rig.advance(0.05) == b"\r\n+IPD,0,21\r\n"
    assert rig.run(b"AT+CIPRECVDATA=0,21") == (
        b'+CIPRECVDATA:21,"127.0.0.1",9001,from the other server\r\nOK\r\n\r\n+IPD,0,13\r\n'
    )
    assert rig.run(b"AT+CIPRECVDATA=0,13") == b'+CIPRECVDATA:13,"127.0.0.1",9000,from the peer\r\nOK\r\n'


def test_passive_udp_window_drops_datagrams_that_do_not_fit() -> None:
    rig = Clocked()
    for line in (b"AT+CIPMUX=1", b'AT+CWJAP="netsocket-open",""', b"AT+CIPRECVMODE=1"):
        rig.run(line)
    rig.run(b'AT+CIPSTART=0,"UDP","127.0.0.1",9000')
    conn = rig.net.connections[0]
    conn.datagrams.extend([(bytes([n]) * 2500, "127.0.0.1", 9000) for n in range(3)])
    assert rig.advance(0.05) == b"\r\n+IPD,0,2500\r\n"  # announced on the first arrival; one notice at a time
    assert not conn.datagrams  # the third was read from the network and dropped
    assert rig.run(b"AT+CIPRECVLEN?") == b"+CIPRECVLEN:5000,-1,-1,-1,-1\r\n\r\nOK\r\n"


def test_cipserver_stop_with_close_all_releases_a_held_closed() -> None:
    rig = Clocked()
    for line in (
        b"AT+CIPMUX=1",
        b'AT+CWJAP="netsocket-open",""',
        b"AT+CIPRECVMODE=1",
        b"AT+CIPSERVER=1,8080",
    ):
        rig.run(line)
    client = FakeConnection()
    client.incoming.append(b"unread")
    client.eof = True
    rig.net.listeners[0].pending.append(client)
    assert rig.advance(0.05) == b"0,CONNECT\r\n\r\n+IPD,0,6\r\n"  # CLOSED held: data unread
    assert rig.run(b"AT+CIPSERVER=0,1") == b"0,CLOSED\r\n\r\nOK\r\n"


def _quirky(quirk: str, profile: str = "at22_8266", **timing: float) -> Clocked:
    rig = Clocked(profile, **timing)
    rig.dev.faults = Faults(quirks=frozenset({quirk}))
    return rig


def test_quirk_busy_then_runs_the_line_anyway() -> None:
    rig = _quirky("busy_then_runs", scan=0.5)
    rig.run(b"AT+SYSLOG=1")
    rig.feed(b"AT+CWLAP\r\n")
    assert rig.feed(b"AT+CIPMUX?\r\n") == b"ERR CODE:0x010b0000\r\n\r\nbusy p...\r\n"
    out = rig.advance(0.6)
    assert out.endswith(b"\r\nOK\r\n+CIPMUX:0\r\n\r\nOK\r\n")


def test_quirk_join_connected_then_fail() -> None:
    rig = _quirky("join_connected_then_fail", "nonos17")
    out = rig.run(b'AT+CWJAP_CUR="netsocket-wpa2","wrong"')
    assert out == b"WIFI CONNECTED\r\n+CWJAP:2\r\n\r\nFAIL\r\nWIFI DISCONNECT\r\n"


def test_quirk_cwqap_disconnect_before_ok() -> None:
    rig = _quirky("cwqap_disconnect_before_ok", "at3_esp32")
    rig.run(b'AT+CWJAP="netsocket-open",""')
    assert rig.run(b"AT+CWQAP") == b"WIFI DISCONNECT\r\n\r\nOK\r\n"


def test_quirk_ssl_announces_more_than_can_be_read() -> None:
    rig = _quirky("ssl_encrypted_length")
    for line in (b"AT+CIPMUX=1", b'AT+CWJAP="netsocket-open",""', b"AT+CIPRECVMODE=1"):
        rig.run(line)
    rig.run(b'AT+CIPSTART=0,"SSL","127.0.0.1",443')
    rig.net.connections[0].incoming.append(b"x" * 421)
    assert rig.advance(0.02) == b"\r\n+IPD,0,450\r\n"
    assert rig.run(b"AT+CIPRECVDATA=0,450") == b"+CIPRECVDATA:421," + b"x" * 421 + b"\r\nOK\r\n"
    assert rig.run(b"AT+CIPRECVDATA=0,29") == b"\r\nERROR\r\n"


def test_quirk_debug_leaks() -> None:
    rig = _quirky("debug_leaks")
    for line in (b"AT+CIPMUX=1", b'AT+CWJAP="netsocket-open",""', b"AT+CIPRECVMODE=1"):
        rig.run(line)
    out = rig.run(b'AT+CIPSTART=0,"UDP","127.0.0.1",2390')
    assert out == b"0,CONNECT\r\n\r\nOK\r\nlocal port:4000\r\nchange type:2\r\n"
    rig.run(b'AT+CIPSTART=1,"TCP","127.0.0.1",80')
    rig.net.connections[1].incoming.append(b"abc")
    rig.advance(0.02)
    assert rig.run(b"AT+CIPRECVDATA=1,10") == b"to read 3 bytes\r\n+CIPRECVDATA:3,abc\r\nOK\r\n"


def test_quirk_mem_check_fail_instead_of_ready_yet_answers() -> None:
    rig = _quirky("mem_check_fail", "nonos17", reset_to_ready=0.1)
    rig.dev.inject_reset(rig.now)
    rig.dev.take_output()
    assert rig.advance(0.2).endswith(b"\r\nMEM CHECK FAIL!!!\r\n\r\ninvalid\r\n")
    assert rig.feed(b"AT\r\n") == b"AT\r\r\n\r\nOK\r\n"


SCRIPT = [
    b"ATE1\r\n",
    b"AT+GMR\r\n",
    b"AT+CIPMUX=1\r\n",
    b'AT+CWJAP="netsocket-open",""\r\n',
    b'AT+CIPSTART=0,"TCP","127.0.0.1",80\r\n',
    b"AT+CIPSEND=0,6\r\n",
    b"a\r\n+IP",
    b"AT+CIPCLOSE=0\r\n",
]


def _run(pieces_per_step: list[list[bytes]]) -> bytes:
    rig = Clocked("at3_esp32")
    out = bytearray()
    for pieces in pieces_per_step:
        for piece in pieces:
            out += rig.feed(piece)
        out += rig.advance(0.05)  # the host waits for the answer before the next command
    return bytes(out)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted({c % (len(data) + 1) for c in cuts}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=0, max_value=64), max_size=6), min_size=len(SCRIPT)))
def test_a_command_split_at_any_boundary_gives_the_same_output(cuts: list[list[int]]) -> None:
    whole = _run([[step] for step in SCRIPT])
    assert b"SEND OK" in whole and whole.endswith(b"0,CLOSED\r\n\r\nOK\r\n")
    assert _run([_split(step, c) for step, c in zip(SCRIPT, cuts, strict=False)]) == whole
