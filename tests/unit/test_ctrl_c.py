"""Ctrl-C reaches a blocking call on the main thread, whichever thread the kernel hands the SIGINT to.

A process-directed signal may be delivered to any thread; CPython runs the Python handler on the main thread only
when that thread wakes up. A main thread blocked in an untimed wait (``accept()`` with no timeout) must therefore
wake up by itself now and then, or Ctrl-C is lost until a peer happens to connect.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import signal, sys, threading
    from netsocket import NsapiError, SocketAddress, TCPSocket, open_interface

    net = open_interface("host://")
    assert net.connect() == NsapiError.OK
    server = TCPSocket()
    assert server.open(net) == NsapiError.OK
    assert server.bind(SocketAddress("127.0.0.1", 0)) == NsapiError.OK
    assert server.listen(1) == NsapiError.OK
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    assert others, "the host stack runs an I/O thread"
    # The SIGINT goes to the stack's I/O thread, as the kernel may choose to do with a Ctrl-C.
    threading.Timer(0.3, signal.pthread_kill, (others[0].ident, signal.SIGINT)).start()
    try:
        server.accept()  # blocking, no timeout, nobody connects
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(0)
    sys.exit(3)
    """
)


def test_a_sigint_delivered_to_another_thread_interrupts_a_blocked_accept() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=30, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "interrupted"), done.stderr
