"""
Leak check: connect, exchange, disconnect, a hundred thousand times, over
real loopback sockets against a C{twistd ratchet}, watching the server's RSS
and file descriptors.

    python bench/leaks.py                         # 100 000 cycles, 8 at a time
    python bench/leaks.py --cycles 20000 --concurrency 4 --every 2000

Each cycle is one RFC 6455 client: TCP connect, opening handshake, one text
message echoed, closing handshake, wait for the server to close TCP.  The
server is started here (C{--app}, an echo by default) unless C{--port} names
one already running (C{--pid} then tells whose RSS to read).  Figures are
printed as a table (at the start, every C{--every} cycles, at the end) and
written as JSON to C{bench/results/leaks-<time>.json}.  The run is bounded by
C{--timeout} seconds.

L{runCycles} is also what C{tests/abuse/test_leaks.py} runs, briefly.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "bench" / "results"

#: The application served when this script starts the server.
DEFAULT_APP = "ratchet_tx.examples.echo:Echo"

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MASK = b"\x37\xfa\x21\x3d"
_MESSAGE = b"leak check"
_CLOSE_OK = b"\x88\x02\x03\xe8"


def rssKiB(pid: int) -> int:
    """The resident set size of process C{pid}, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def fdCount(pid: int) -> int:
    """How many file descriptors process C{pid} has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


class Twistd:
    """
    A C{twistd -n ratchet} started for a benchmark, on a free loopback port
    (or on C{listen}); its log goes to a temporary file.
    """

    def __init__(
        self,
        *args: str,
        listen: str = "tcp:0:interface=127.0.0.1:backlog=4096",
        timeout: float = 20.0,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="ratchet-bench-"))
        self.logPath = self.workdir / "twistd.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        twistd = Path(sys.executable).parent / "twistd"
        command = (
            [str(twistd)]
            if twistd.exists()
            else [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
        )
        with open(self.logPath, "wb") as log:
            self.popen = subprocess.Popen(
                [*command, "-n", "--pidfile=", "ratchet", *args, "--listen", listen],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=preexec,
            )
        self.pid = self.popen.pid
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(r"starting on (\d+)", self.log())
            if found and self._catchesSigterm():
                self.port = int(found.group(1))
                return
            if self.popen.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("twistd did not start:\n" + self.log())
            time.sleep(0.05)

    def _catchesSigterm(self) -> bool:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
        return False

    def log(self) -> str:
        try:
            return self.logPath.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def _request(port: int) -> tuple[bytes, bytes]:
    key = base64.b64encode(os.urandom(16))
    request = (
        b"GET /leaks HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
        % (port, key)
    )

    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    return request, accept


def _masked(opcode: int, payload: bytes) -> bytes:
    masked = bytes(b ^ _MASK[i % 4] for i, b in enumerate(payload))
    return bytes((0x80 | opcode, 0x80 | len(payload))) + _MASK + masked


_TEXT_FRAME = _masked(0x1, _MESSAGE)
_CLOSE_FRAME = _masked(0x8, b"\x03\xe8")
_ECHO = bytes((0x81, len(_MESSAGE))) + _MESSAGE


async def cycle(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    """
    One client's life: connect, handshake, one echo, closing handshake, EOF.

    @raise AssertionError: the server answered something else.
    """
    request, accept = _request(port)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        if not head.startswith(b"HTTP/1.1 101 ") or accept not in head:
            raise AssertionError(f"handshake refused: {head[:200]!r}")
        writer.write(_TEXT_FRAME)
        echo = await asyncio.wait_for(reader.readexactly(len(_ECHO)), timeout)
        if echo != _ECHO:
            raise AssertionError(f"wrong echo {echo!r}")
        writer.write(_CLOSE_FRAME)
        close = await asyncio.wait_for(reader.readexactly(4), timeout)
        if close != _CLOSE_OK:
            raise AssertionError(f"wrong close {close!r}")
        rest = await asyncio.wait_for(reader.read(), timeout)
        if rest:
            raise AssertionError(f"bytes after the close: {rest!r}")
    finally:
        writer.close()


async def runCycles(
    port: int,
    cycles: int,
    concurrency: int = 8,
    every: int | None = None,
    onProgress: Callable[[int], None] | None = None,
    deadline: float | None = None,
) -> dict:
    """
    Run C{cycles} client lives against C{port}, C{concurrency} at a time,
    calling C{onProgress(done)} every C{every} cycles.

    @return: C{{"cycles": done, "errors": n, "firstError": text}}.
    """
    done = 0
    errors = 0
    firstError = ""
    started = 0

    async def worker() -> None:
        nonlocal done, errors, firstError, started
        while started < cycles and (deadline is None or time.monotonic() < deadline):
            started += 1
            try:
                await cycle(port)
            except (
                AssertionError,
                OSError,
                asyncio.TimeoutError,
                asyncio.IncompleteReadError,
            ) as e:
                errors += 1
                firstError = firstError or f"{type(e).__name__}: {e}"
            done += 1
            if every and onProgress is not None and done % every == 0:
                onProgress(done)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"cycles": done, "errors": errors, "firstError": firstError}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--every", type=int, default=10_000, help="report every N cycles")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds, at most")
    parser.add_argument("--app", default=DEFAULT_APP)
    parser.add_argument("--port", type=int, help="a server already running")
    parser.add_argument("--pid", type=int, help="its process id (with --port)")
    parser.add_argument("--json", type=Path, help="where to write the figures")
    options = parser.parse_args(argv)

    server = None
    if options.port is None:
        server = Twistd("--app", options.app, "--ping-interval", "0")
        port, pid = server.port, server.pid
    else:
        port, pid = options.port, options.pid
    rows: list[dict] = []
    started = time.monotonic()

    def sample(done: int) -> None:
        row = {
            "cycles": done,
            "seconds": round(time.monotonic() - started, 1),
            "rssKiB": rssKiB(pid) if pid else None,
            "fds": fdCount(pid) if pid else None,
        }
        rows.append(row)
        print(
            f"{row['cycles']:>9} {row['seconds']:>9} {row['rssKiB']!s:>10} {row['fds']!s:>6}",
            flush=True,
        )

    print(f"{'cycles':>9} {'seconds':>9} {'RSS KiB':>10} {'fds':>6}")
    try:
        sample(0)
        result = asyncio.run(
            runCycles(
                port,
                options.cycles,
                options.concurrency,
                options.every,
                sample,
                deadline=started + options.timeout,
            )
        )
        if rows[-1]["cycles"] != result["cycles"]:
            sample(result["cycles"])
        time.sleep(1.0)  # let the last closes finish on the server
        sample(result["cycles"])
        rows[-1]["label"] = "settled"
    finally:
        if server is not None:
            server.stop()
    elapsed = time.monotonic() - started
    report = {
        "benchmark": "leaks",
        "app": options.app,
        "concurrency": options.concurrency,
        "cycles": result["cycles"],
        "errors": result["errors"],
        "firstError": result["firstError"],
        "seconds": round(elapsed, 1),
        "cyclesPerSecond": round(result["cycles"] / elapsed, 1),
        "rssGrowthKiB": (rows[-1]["rssKiB"] - rows[0]["rssKiB"]) if pid else None,
        "fdsStart": rows[0]["fds"],
        "fdsEnd": rows[-1]["fds"],
        "samples": rows,
    }
    writeReport("leaks", report, options.json)
    return 1 if result["errors"] else 0


def writeReport(kind: str, report: dict, path: Path | None) -> None:
    """
    Print C{report} without its samples, and write all of it as JSON to
    C{path} (by default C{bench/results/<kind>-<date>.json}).
    """
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}))
    path = path or RESULTS / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    sys.exit(main())
