"""
What the four clients of the client scenario share: their command line, the
messages they send, and the meter that runs the phases and writes the result.

Each client (ratchet_client.py, websockets_client.py, autobahn_client.py,
picows_client.py) opens --conns connections to one fixed echo server, then
keeps --inflight messages of --size bytes in flight on each: every echo that
comes back is compared with the message sent (the oldest one outstanding on
that connection) and answered with the next one.  A connection rotates
through --inflight + 1 different messages, so an echo lost, repeated or
reordered is a mismatch, and a mismatch fails the run.

The meter warms up for --warmup seconds once every connection is open, then
counts the echoes verified during --duration seconds and the process's own
CPU time (user + system) meanwhile, and prints, as the C load generator does:

    phase measure
    phase end
    result {"ok": true, "messages": ..., "messages_per_s": ..., ...}

A run that does not finish within --timeout seconds prints a failed result.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

#: How long a client may take to close its connections after the result.
CLOSE_GRACE = 3.0


def parseArgs(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=64, help="connections (64)")
    p.add_argument("--inflight", type=int, default=16, help="messages in flight on each (16)")
    p.add_argument("--size", type=int, default=32, help="message size in bytes (32)")
    p.add_argument("--binary", action="store_true", help="binary messages (default: text)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds (1)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds measured (5)")
    p.add_argument("--timeout", type=float, default=60.0, help="give up after (60 s)")
    options = p.parse_args()
    if options.conns < 1 or options.inflight < 1 or options.size < 16:
        p.error("--conns and --inflight are at least 1, --size at least 16")
    return options


def messages(conn: int, options: argparse.Namespace) -> list[bytes]:
    """
    The --inflight + 1 messages connection number C{conn} rotates through,
    as ASCII bytes of exactly --size bytes each, all different.
    """
    out = []
    for index in range(options.inflight + 1):
        head = f"c{conn:05d}m{index:04d}:".encode()
        fill = bytes(65 + (conn + index + i) % 26 for i in range(64))
        body = (fill * (options.size // len(fill) + 1))[: options.size - len(head)]
        out.append(head + body)
    return out


class Meter:
    """
    The phases of one run, driven by the client's event loop.

    @ivar received: echoes verified so far (the clients add to it).
    @ivar sending: whether a verified echo is to be answered with the next
        message (false before the start and after the end).
    """

    def __init__(
        self,
        options: argparse.Namespace,
        schedule: Callable[[float, Callable[[], None]], object],
        finish: Callable[[], None],
    ) -> None:
        """
        @param schedule: C{schedule(seconds, f)} calls C{f} that much later,
            on the client's event loop.
        @param finish: closes the connections and stops the event loop; called
            once, after the result was printed.
        """
        self.options = options
        self._schedule = schedule
        self._finish = finish
        self.received = 0
        self.sending = False
        self.opened = 0
        self.done = False
        self._started = time.monotonic()
        self._t0 = self._cpu0 = 0.0
        self._n0 = 0
        schedule(options.timeout, self._timedOut)

    def connectionOpened(self) -> bool:
        """
        One more connection is open; return whether that was the last one
        (then the clients start sending, and the warm-up starts).
        """
        self.opened += 1
        if self.opened < self.options.conns:
            return False
        self.sending = True
        self._schedule(self.options.warmup, self._measure)
        return True

    def _measure(self) -> None:
        if self.done:
            return
        self._t0, self._cpu0, self._n0 = time.perf_counter(), time.process_time(), self.received
        print("phase measure", flush=True)
        self._schedule(self.options.duration, self._end)

    def _end(self) -> None:
        if self.done:
            return
        t1, cpu1, n1 = time.perf_counter(), time.process_time(), self.received
        print("phase end", flush=True)
        self.sending = False
        seconds, cpu = t1 - self._t0, cpu1 - self._cpu0
        count = n1 - self._n0
        self._result(
            ok=True,
            messages=count,
            seconds=seconds,
            messages_per_s=count / seconds,
            client_cpu_s=cpu,
            client_cpu=cpu / seconds,
            per_cpu_s=count / cpu if cpu > 0 else None,
            bytes=count * self.options.size,
            mib_per_s=count * self.options.size / seconds / 1048576,
        )

    def mismatch(self, conn: int, got: Any, expected: Any) -> None:
        """An echo that is not the message sent: the run fails."""
        self._result(
            ok=False,
            error=f"connection {conn}: got {got[:40]!r}, expected {expected[:40]!r}",
        )

    def failed(self, error: str) -> None:
        """A connection failed to open or was lost during the run."""
        self._result(ok=False, error=error)

    def _timedOut(self) -> None:
        self._result(
            ok=False,
            error=f"not done after {self.options.timeout} s ({self.opened} connections open)",
        )

    def _result(self, **result: Any) -> None:
        if self.done:
            return
        self.done = True
        self.sending = False
        result["connections"] = self.options.conns
        print("result " + json.dumps(result), flush=True)
        sys.stdout.flush()
        self._finish()
