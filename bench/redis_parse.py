"""
How fast ratchet_tx's RESP2 parser is, beside hiredis's C parser, and how much
of a pipelined GET's cost the parsing is.

    .venv/bin/python bench/redis_parse.py            # ~10 s, 1 CPU
    .venv/bin/python bench/redis_parse.py --no-e2e   # the parsers only

1. Parse rate: 64 KiB reads of typical replies (a pub/sub message, a short
   GET value, +OK, a 100-element LRANGE), fed to L{ReplyParser} and, when
   the C{hiredis} package is installed, to C{hiredis.Reader}; the best of
   7 runs, in replies/s and MiB/s.
2. End to end: a L{RedisClient} against a real C{redis-server} (started by
   L{tests.support.redisserver}), 20 batches of 1000 concurrent GETs; the
   client process's CPU time per GET, and the parser's share of it.

Not a test, and nothing is asserted: it prints a table.  hiredis is not a
dependency of ratchet_tx; C{pip install hiredis} to compare.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ratchet_tx.redis.resp import ReplyParser  # noqa: E402

try:
    import hiredis
except ImportError:  # pragma: no cover - optional
    hiredis = None  # type: ignore[assignment]

READ_SIZE = 65536
RUNS = 7


def bulk(body: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(body), body)


CASES = {
    "pub/sub message": b"*3\r\n"
    + bulk(b"message")
    + bulk(b"chat:room1")
    + bulk(b'{"from":"alice","text":"hello there"}'),
    "GET, 20 bytes": bulk(b"x" * 20),
    "+OK": b"+OK\r\n",
    "LRANGE, 100 x 10 bytes": b"*100\r\n" + bulk(b"y" * 10) * 100,
}


def best(run) -> float:
    return min(run() for _ in range(RUNS))


def parseRates(reads: int = 30) -> None:
    print(f"{'reply':24} {'ratchet_tx':>22} {'hiredis':>22} {'ratio':>6}")
    for name, one in CASES.items():
        per = READ_SIZE // len(one)
        chunk = one * per

        def ours(chunk: bytes = chunk) -> float:
            parser = ReplyParser()
            start = time.perf_counter()
            for _ in range(reads):
                parser.feed(chunk)
            return time.perf_counter() - start

        def theirs(chunk: bytes = chunk) -> float:
            reader = hiredis.Reader()
            start = time.perf_counter()
            for _ in range(reads):
                reader.feed(chunk)
                while reader.gets() is not False:
                    pass
            return time.perf_counter() - start

        mib = reads * len(chunk) / 2**20
        a = best(ours)
        row = f"{name:24} {reads * per / a / 1e6:6.2f} M/s {mib / a:6.1f} MiB/s"
        if hiredis is not None:
            b = best(theirs)
            row += f" {reads * per / b / 1e6:6.2f} M/s {mib / b:6.1f} MiB/s {a / b:5.1f}x"
        print(row)


def endToEnd(batches: int = 20, batch: int = 1000) -> None:
    from twisted.internet import defer, task

    from ratchet_tx.redis import RedisClient
    from tests.support.redisserver import RedisServer

    server = RedisServer.start()
    try:
        server.command("SET", "key", "x" * 20)

        async def run(reactor) -> None:
            client = RedisClient(reactor, server.url())
            await client.whenConnected(10)
            await defer.gatherResults([client.get("key") for _ in range(batch)])  # warm up
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(batches):
                await defer.gatherResults([client.get("key") for _ in range(batch)])
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            await client.close()
            gets = batches * batch
            parser = ReplyParser()
            reply = bulk(b"x" * 20) * batch
            start = time.process_time()
            for _ in range(batches):
                parser.feed(reply)
            parse = time.process_time() - start
            print(
                f"\n{gets} pipelined GETs ({batch} at a time): {gets / wall:,.0f} GETs/s, "
                f"{cpu / gets * 1e6:.1f} us CPU each in the client process, of which "
                f"parsing {parse / gets * 1e6:.2f} us ({parse / cpu:.0%})"
            )

        task.react(lambda reactor: defer.ensureDeferred(run(reactor)))
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-e2e", action="store_true", help="the parsers only")
    options = parser.parse_args()
    parseRates()
    if not options.no_e2e:
        endToEnd()


if __name__ == "__main__":
    main()
