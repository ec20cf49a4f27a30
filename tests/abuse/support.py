"""
What the abuse tests share: a C{twistd ratchet} serving L{tests.abuse.apps.Probe},
its RSS and file descriptors from C{/proc}, raw sockets that misbehave, and
the tolerances every "back to baseline" check allows.

Tolerances
==========

Memory is measured as the server's C{VmRSS}, after a warm-up burst of the
same attack (so imports, caches and the allocator's first arenas are paid
before the baseline is taken) and after every attacking connection has gone.
CPython's allocator keeps freed arenas and glibc keeps freed heap, so RSS
does not fall back byte for byte; what a leak looks like is growth in
proportion to the number of attacks.  L{RSS_TOLERANCE_KIB} is the growth
allowed for a whole burst of L{BURST} attacks: 6 KiB per attack, so leaking
what an attacking connection holds fails it (an open connection costs the
server about 5.4 KiB of RSS: 10 000 of them, in C{bench/soak.py}, 53 MiB).
Measured growth over a burst, after the warm-up: 0 to 1.7 KiB per attack.

File descriptors are exact: the count after a burst must equal the count
before it, once the server closed every attacking connection.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.twistd import TwistdError, TwistdProcess, recvBefore, recvUntil
from tests.support.wsclients import HybiClient

#: Attacks per burst in the "back to baseline" checks.
BURST = 200
#: RSS growth allowed over a burst of L{BURST} attacks, in KiB (see above).
RSS_TOLERANCE_KIB = 1200
#: Seconds within which a refusal or a close must follow the attack: "promptly".
PROMPT = 2.0
#: The Probe application, as twistd's --app takes it.
PROBE_APP = "tests.abuse.apps:Probe"
#: Where the server under attack listens: a free loopback port, with a listen
#: backlog deep enough for a burst (with the default of 50, connections past
#: it wait in the kernel for a second or two before twistd sees them, and
#: would seem to outlive their timeouts).
LISTEN = "tcp:0:interface=127.0.0.1:backlog=1024"

_PROC = Path("/proc")


def rssKiB(pid: int) -> int:
    """The resident set size of process C{pid}, in KiB."""
    for line in (_PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def fdCount(pid: int) -> int:
    """How many file descriptors process C{pid} has open."""
    return len(os.listdir(_PROC / str(pid) / "fd"))


def waitUntil(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """
    Poll C{predicate} until it is true or C{timeout} seconds passed.

    @return: its last value.
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return predicate()
        time.sleep(interval)


def startProbe(*args: str) -> TwistdProcess:
    """A twistd serving L{tests.abuse.apps.Probe} over WebSocket, with C{args}."""
    if "--listen" not in args:
        args = (*args, "--listen", LISTEN)
    return TwistdProcess.start("--app", PROBE_APP, "--ping-interval", "0", *args)


def probeStats(port: int, host: str = "127.0.0.1") -> dict:
    """
    The books of the Probe served on C{port}, asked over a connection of
    its own (which is counted in them: it is open while they are read).
    """
    with HybiClient(port, host=host) as client:
        client.send("stats?")
        stats = json.loads(client.recvMessage())
        client.close()
    return stats


def errorLines(log: str) -> list[str]:
    """The lines of a twistd log at error or critical level, and tracebacks."""
    markers = ("#error]", "#critical]", "Traceback", "Unhandled")
    return [line for line in log.splitlines() if any(m in line for m in markers)]


def rawConnect(
    port: int,
    host: str = "127.0.0.1",
    source: str | None = None,
    receiveBuffer: int | None = None,
    timeout: float = 5.0,
) -> socket.socket:
    """
    A blocking TCP socket to C{host:port}, bound to the loopback C{source}
    address if given, with a small kernel receive buffer if asked (a client
    that does not read then backs the server up sooner).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receiveBuffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receiveBuffer)
    if source is not None:
        sock.bind((source, 0))
    sock.settimeout(timeout)
    sock.connect((host, port))
    return sock


def reset(sock: socket.socket) -> None:
    """Close C{sock} with a TCP reset (SO_LINGER 0), as a crashing client does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def readHead(sock: socket.socket, timeout: float = PROMPT) -> tuple[int, bytes]:
    """
    Read an HTTP response head (and whatever came with it) from C{sock}.

    @return: the status code and every byte read.
    @raise AssertionError: no complete head within C{timeout} seconds.
    """
    try:
        data = recvUntil(sock, b"\r\n\r\n", timeout)
    except TwistdError as error:
        raise AssertionError(f"no response head: {error}") from None
    return int(data.split(b" ", 2)[1]), data


def readUntilClosed(sock: socket.socket, timeout: float = PROMPT) -> tuple[bytes, str]:
    """
    Read from C{sock} until the server closes it.

    @return: what was read, and how it ended: C{"eof"} or C{"reset"}.
    @raise AssertionError: still open after C{timeout} seconds.
    """
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        try:
            chunk = recvBefore(sock, deadline)
        except ConnectionResetError:
            return data, "reset"
        if chunk is None:
            raise AssertionError(f"still open after {timeout}s; read {data[:200]!r}")
        if not chunk:
            return data, "eof"
        data += chunk


def settle(proc: TwistdProcess, fds: int, timeout: float = 5.0) -> int:
    """
    Wait until C{proc} is back to C{fds} file descriptors (every attacking
    connection closed on its side); return the count it ended at.
    """
    waitUntil(lambda: fdCount(proc.pid) <= fds, timeout)
    # Let the reactor finish what the last close started (onClose, timers).
    time.sleep(0.1)
    return fdCount(proc.pid)


def record(name: str, **figures: object) -> None:
    """
    Note figures a test measured: appended as a JSON line to the file named
    by C{$RATCHET_ABUSE_FIGURES}, if set (nothing otherwise).
    """
    path = os.environ.get("RATCHET_ABUSE_FIGURES")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps({"test": name, **figures}) + "\n")


class Baseline:
    """
    The server's RSS and file descriptors before a burst, and the check that
    they are back (within L{RSS_TOLERANCE_KIB}, and exactly) after it.
    """

    def __init__(self, proc: TwistdProcess) -> None:
        self.proc = proc
        self.fds = settle(proc, fdCount(proc.pid))
        self.rss = rssKiB(proc.pid)

    def check(self, testCase, name: str, attacks: int) -> dict:
        fds = settle(self.proc, self.fds)
        rss = rssKiB(self.proc.pid)
        figures = {
            "attacks": attacks,
            "rssBeforeKiB": self.rss,
            "rssAfterKiB": rss,
            "rssGrowthPerAttackBytes": round((rss - self.rss) * 1024 / attacks, 1),
            "fdsBefore": self.fds,
            "fdsAfter": fds,
        }
        record(name, **figures)
        testCase.assertEqual(fds, self.fds, f"file descriptors not back to baseline: {figures}")
        testCase.assertLess(
            rss - self.rss, RSS_TOLERANCE_KIB, f"RSS not back to baseline: {figures}"
        )
        return figures
