"""
Soak: many concurrent WebSocket connections with periodic traffic, for
minutes, watching the server's RSS and file descriptors.

    python bench/soak.py                                   # 10 000 for 3 minutes
    python bench/soak.py --connections 2000 --minutes 1 --interval 5

A C{twistd ratchet} is started (the abuse tests' Probe: echo, and broadcast
for text starting with "B"; pings on, every 20 s of silence) unless
C{--port} names a running one.  The load comes from this process: one
asyncio loop, one coroutine per connection, each an RFC 6455 client that
sends a masked text message every C{--interval} seconds (with jitter),
checks the echo, and answers the server's pings.  Every C{--broadcast-every}
seconds one client broadcasts, so every connection receives a message at
once.  When the connections would outrun the ephemeral ports of one source
address, or with C{--sources N}, clients bind to loopback source addresses
127.0.0.2, 127.0.0.3, ...  RLIMIT_NOFILE is raised to its hard limit here
(and so in the server, which inherits it).

Every C{--sample} seconds a row: connections open, messages sent and echoed
(per second), errors, the echo latency (median and 99th percentile), the
server's RSS and fds.  At the end the clients close (closing handshakes),
and the server's figures are taken again once it settled.  The table is
printed and written as JSON to C{bench/results/soak-<time>.json}.  Every
phase is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.leaks import Twistd, fdCount, rssKiB, writeReport  # noqa: E402

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: Ephemeral ports usable per source address (net.ipv4.ip_local_port_range).
PORTS_PER_SOURCE = 20000


def portsPerSource() -> int:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return max(high - low - 1000, 1000)
    except (OSError, ValueError):
        return PORTS_PER_SOURCE


def raiseFileLimit(needed: int) -> int:
    """Raise RLIMIT_NOFILE to the hard limit; return the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft < needed:
        print(f"warning: RLIMIT_NOFILE is {soft}, under the {needed} needed", file=sys.stderr)
    return soft


def masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    size = len(payload)
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    if size < 126:
        header = bytes((0x80 | opcode, 0x80 | size))
    else:
        header = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    return header + mask + data


class Stats:
    def __init__(self) -> None:
        self.open = 0
        self.opened = 0
        self.sent = 0
        self.echoed = 0
        self.broadcasts = 0
        self.pings = 0
        self.errors = 0
        self.firstError = ""
        self.latencies: list[float] = []

    def error(self, text: str) -> None:
        self.errors += 1
        self.firstError = self.firstError or text


class Client:
    """One connection: handshake, then periodic echoes until told to stop."""

    def __init__(self, port: int, source: str | None, stats: Stats, interval: float) -> None:
        self.port = port
        self.source = source
        self.stats = stats
        self.interval = interval
        self.writer: asyncio.StreamWriter | None = None
        self.pending: dict[str, float] = {}
        self.closing = False
        self.closed = asyncio.Event()
        self.serial = 0

    async def open(self, timeout: float) -> None:
        local = (self.source, 0) if self.source else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", self.port, local_addr=local), timeout
        )
        self.reader, self.writer = reader, writer
        key = base64.b64encode(os.urandom(16))
        writer.write(
            b"GET /soak HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % key
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        if not head.startswith(b"HTTP/1.1 101 ") or accept not in head:
            raise ConnectionError(f"refused: {head[:80]!r}")
        self.stats.open += 1
        self.stats.opened += 1

    async def read(self) -> None:
        reader = self.reader
        try:
            while True:
                header = await reader.readexactly(2)
                opcode, size = header[0] & 0x0F, header[1] & 0x7F
                if size == 126:
                    size = int.from_bytes(await reader.readexactly(2), "big")
                elif size == 127:
                    size = int.from_bytes(await reader.readexactly(8), "big")
                payload = await reader.readexactly(size)
                if opcode == 0x1:
                    text = payload.decode("utf-8")
                    sentAt = self.pending.pop(text, None)
                    if sentAt is not None:
                        self.stats.echoed += 1
                        self.stats.latencies.append(time.monotonic() - sentAt)
                    elif text.startswith("B"):
                        self.stats.broadcasts += 1
                    else:
                        self.stats.error(f"unexpected message {text[:40]!r}")
                elif opcode == 0x9:
                    self.stats.pings += 1
                    self.writer.write(masked(0xA, payload))
                elif opcode == 0x8:
                    if not self.closing:
                        self.stats.error(f"closed by the server: {payload[:2].hex()}")
                        self.writer.write(masked(0x8, payload[:2]))
                    break
            await reader.read()
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            if not self.closing:
                self.stats.error(f"{type(e).__name__}: {e}")
        finally:
            self.stats.open -= 1
            self.writer.close()
            self.closed.set()

    async def talk(self, stop: asyncio.Event) -> None:
        await asyncio.sleep(random.uniform(0, self.interval))
        while not stop.is_set() and not self.closed.is_set():
            self.serial += 1
            text = f"{id(self):x}-{self.serial}"
            self.pending[text] = time.monotonic()
            self.writer.write(masked(0x1, text.encode()))
            self.stats.sent += 1
            try:
                await asyncio.wait_for(stop.wait(), self.interval * random.uniform(0.8, 1.2))
            except asyncio.TimeoutError:
                pass

    async def close(self, timeout: float) -> None:
        if self.closed.is_set():
            return
        self.closing = True
        try:
            self.writer.write(masked(0x8, b"\x03\xe8"))
            await asyncio.wait_for(self.closed.wait(), timeout)
        except (asyncio.TimeoutError, ConnectionError):
            self.writer.transport.abort()


def serverFigures(pid: int | None) -> tuple[int | None, int | None]:
    if not pid:
        return None, None
    return rssKiB(pid), fdCount(pid)


async def soak(options: argparse.Namespace, port: int, pid: int | None) -> dict:
    stats = Stats()
    sources = options.sources or -(-options.connections // portsPerSource())
    addresses = [None] if sources <= 1 else [f"127.0.0.{2 + i}" for i in range(sources)]
    rows: list[dict] = []
    started = time.monotonic()
    baseline = serverFigures(pid)

    def row(phase: str, last: dict | None = None) -> dict:
        now = time.monotonic()
        rss, fds = serverFigures(pid)
        latencies = stats.latencies
        stats.latencies = []
        span = now - (last["_at"] if last else started)
        entry = {
            "phase": phase,
            "seconds": round(now - started, 1),
            "open": stats.open,
            "sent": stats.sent,
            "echoed": stats.echoed,
            "echoesPerSecond": round((stats.echoed - (last["echoed"] if last else 0)) / span, 1),
            "broadcasts": stats.broadcasts,
            "pings": stats.pings,
            "errors": stats.errors,
            "latencyMedianMs": round(statistics.median(latencies) * 1000, 2) if latencies else None,
            "latencyP99Ms": round(sorted(latencies)[int(len(latencies) * 0.99)] * 1000, 2)
            if latencies
            else None,
            "rssKiB": rss,
            "fds": fds,
            "_at": now,
        }
        rows.append(entry)
        print(
            f"{entry['phase']:<8} {entry['seconds']:>7} {entry['open']:>6} {entry['sent']:>9} "
            f"{entry['echoed']:>9} {entry['echoesPerSecond']:>8} {entry['broadcasts']:>9} "
            f"{entry['errors']:>6} {entry['latencyMedianMs']!s:>7} {entry['latencyP99Ms']!s:>7} "
            f"{entry['rssKiB']!s:>9} {entry['fds']!s:>6}",
            flush=True,
        )
        return entry

    print(
        f"{'phase':<8} {'seconds':>7} {'open':>6} {'sent':>9} {'echoed':>9} {'echo/s':>8} "
        f"{'bcasts':>9} {'errors':>6} {'p50 ms':>7} {'p99 ms':>7} {'RSS KiB':>9} {'fds':>6}"
    )
    last = row("start")

    # Connect, a batch at a time.
    clients: list[Client] = []
    readers: list[asyncio.Task] = []
    deadline = time.monotonic() + options.connect_timeout
    for first in range(0, options.connections, options.batch):
        batch = [
            Client(port, addresses[(first + i) % len(addresses)], stats, options.interval)
            for i in range(min(options.batch, options.connections - first))
        ]
        results = await asyncio.gather(*(c.open(10.0) for c in batch), return_exceptions=True)
        for client, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                stats.error(f"connect: {type(result).__name__}: {result}")
                if client.writer is not None:
                    client.writer.close()
            else:
                clients.append(client)
                readers.append(asyncio.ensure_future(client.read()))
        if time.monotonic() > deadline:
            stats.error("connect phase timed out")
            break
    last = row("open", last)

    # Traffic for --minutes, a row every --sample seconds.
    stop = asyncio.Event()
    talkers = [asyncio.ensure_future(c.talk(stop)) for c in clients]

    async def broadcaster() -> None:
        serial = 0
        while not stop.is_set() and clients:
            try:
                await asyncio.wait_for(stop.wait(), options.broadcast_every)
            except asyncio.TimeoutError:
                serial += 1
                sender = random.choice(clients)
                if not sender.closed.is_set():
                    sender.writer.write(masked(0x1, f"B{serial}".encode()))

    broadcasting = asyncio.ensure_future(broadcaster())
    end = time.monotonic() + options.minutes * 60
    while time.monotonic() < end:
        await asyncio.sleep(min(options.sample, max(end - time.monotonic(), 0)))
        last = row("soak", last)
    stop.set()
    await asyncio.gather(*talkers, broadcasting)
    await asyncio.sleep(min(options.interval, 2.0))  # the last echoes

    # Close everything, then let the server settle.
    for first in range(0, len(clients), options.batch):
        await asyncio.gather(*(c.close(10.0) for c in clients[first : first + options.batch]))
    await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), 30)
    await asyncio.sleep(2.0)
    last = row("closed", last)
    for entry in rows:
        entry.pop("_at")
    return {
        "benchmark": "soak",
        "connections": options.connections,
        "opened": stats.opened,
        "minutes": options.minutes,
        "interval": options.interval,
        "sources": [a or "127.0.0.1" for a in addresses],
        "errors": stats.errors,
        "firstError": stats.firstError,
        "server": {
            "rssBaselineKiB": baseline[0],
            "fdsBaseline": baseline[1],
            "rssPeakKiB": max((r["rssKiB"] or 0) for r in rows),
            "rssAfterCloseKiB": rows[-1]["rssKiB"],
            "fdsAfterClose": rows[-1]["fds"],
        },
        "samples": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument(
        "--interval", type=float, default=10.0, help="seconds between a connection's messages"
    )
    parser.add_argument(
        "--broadcast-every",
        type=float,
        default=5.0,
        help="seconds between broadcasts to every connection",
    )
    parser.add_argument("--sample", type=float, default=15.0, help="seconds between rows")
    parser.add_argument("--batch", type=int, default=250, help="connections opened at once")
    parser.add_argument(
        "--sources",
        type=int,
        default=0,
        help="loopback source addresses (default: as many as ports need)",
    )
    parser.add_argument("--connect-timeout", type=float, default=300.0)
    parser.add_argument("--app", default="tests.abuse.apps:Probe")
    parser.add_argument("--port", type=int, help="a server already running")
    parser.add_argument("--pid", type=int, help="its process id (with --port)")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args(argv)

    raiseFileLimit(options.connections + 100)
    server = None
    if options.port is None:
        server = Twistd("--app", options.app)
        port, pid = server.port, server.pid
    else:
        port, pid = options.port, options.pid
    try:
        report = asyncio.run(
            asyncio.wait_for(
                soak(options, port, pid), options.minutes * 60 + options.connect_timeout + 120
            )
        )
    finally:
        if server is not None:
            server.stop()
            errors = [
                line
                for line in server.log().splitlines()
                if "#error]" in line or "#critical]" in line or "Traceback" in line
            ]
    if server is not None:
        report["serverErrorLines"] = errors[:20]
    writeReport("soak", report, options.json)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
