"""The host stack's I/O loop stops with its last socket and restarts with the next one; sockets opened and closed
from several threads at once must never leave a loop that cannot be woken (a hang in close) or a leaked wake pair."""

from __future__ import annotations

import socket
import threading

from netsocket.drivers.host.io_thread import IoThread, Watch


def test_watch_unwatch_from_several_threads_never_hangs() -> None:
    io = IoThread()
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for _ in range(1000):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.setblocking(False)
                    watch = Watch(sock)
                    io.watch(watch)
                    io.arm(watch, read=True)
                    io.unwatch(watch)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=churn, name=f"churn-{n}", daemon=True) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not [thread.name for thread in threads if thread.is_alive()], "unwatch hung joining a loop nobody woke"
    assert not errors, errors
    assert not io.running


def test_a_restarted_loop_still_delivers_readiness() -> None:
    """Stop and restart the loop many times (fd numbers get reused); each new loop still reports readiness."""
    io = IoThread()
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as passing:
            passing_watch = Watch(passing)
            io.watch(passing_watch)
            io.unwatch(passing_watch)  # the last one: the loop stops
        fired = threading.Event()
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
        ):
            receiver.bind(("127.0.0.1", 0))
            receiver.setblocking(False)
            watch = Watch(receiver)
            watch.callback = fired.set
            io.watch(watch)  # a new loop starts
            sender.sendto(b"x", receiver.getsockname())
            assert fired.wait(5), "the restarted loop never reported a readable socket"
            io.unwatch(watch)
    assert not io.running


def test_a_closed_sockets_fd_reused_by_the_next_loops_wake_pair() -> None:
    """The fds of sockets closed as the loop stopped are handed to the next loop's selector and wake pair (Linux
    gives the lowest free fd); the new loop must not mistake its wake socket for a closed socket and unregister it."""
    io = IoThread()
    gone = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    kept = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        watches = [Watch(sock) for sock in gone]
        for watch in watches:
            io.watch(watch)
        for watch in watches:
            io.unwatch(watch)  # the last one stops the loop; its fd is still marked as changed
        for sock in gone:
            sock.close()  # their numbers are free for the next loop's selector and wake pair
        kept_watch = Watch(kept)
        io.watch(kept_watch)  # a new loop starts
        closer = threading.Thread(target=io.unwatch, args=(kept_watch,), daemon=True)
        closer.start()
        closer.join(5)
        assert not closer.is_alive(), "the new loop could not be woken to stop"
    finally:
        kept.close()
        for sock in gone:
            sock.close()
