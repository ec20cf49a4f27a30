"""
The client scenario's websockets client: websockets' asyncio implementation
(websockets.asyncio.client.connect) on asyncio's default event loop, one
task per connection reading echoes with recv() and answering each verified
one with the next message (await send()).

    python websockets_client.py --port 9000 --conns 64 --inflight 16 --size 32

Frames are masked by websockets itself: a key per frame from
secrets.token_bytes(4) (one os.urandom call each), the payload masked by its
C extension (websockets.speedups.apply_mask).
"""

from __future__ import annotations

import asyncio
from typing import Any

from _common import CLOSE_GRACE, Meter, messages, parseArgs
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


async def run(number: int, ws: Any, sent: list[Any], meter: Meter, go: asyncio.Event) -> None:
    await go.wait()
    nextOut = 0
    for _ in range(meter.options.inflight):
        await ws.send(sent[nextOut])
        nextOut += 1
    nextIn = 0
    rotation = len(sent)
    try:
        while True:
            message = await ws.recv()
            expected = sent[nextIn]
            if message != expected:
                meter.mismatch(number, message, expected)
                return
            nextIn = (nextIn + 1) % rotation
            meter.received += 1
            if meter.sending:
                await ws.send(sent[nextOut])
                nextOut = (nextOut + 1) % rotation
    except ConnectionClosed as e:
        if not meter.done:
            meter.failed(f"connection {number} closed: {e}")


async def main() -> None:
    options = parseArgs(__doc__.split("\n\n")[0])
    loop = asyncio.get_running_loop()
    finished = asyncio.Event()
    meter = Meter(options, loop.call_later, finished.set)
    print(f"websockets client: loop {type(loop).__name__}", flush=True)
    url = f"ws://{options.host}:{options.port}/"
    go = asyncio.Event()
    conns: list[Any] = []

    async def open(number: int) -> None:
        try:
            ws = await connect(
                url, compression=None, max_size=None, ping_interval=None, open_timeout=30
            )
        except Exception as e:
            meter.failed(f"connection {number}: {e!r}")
            return
        conns.append(ws)
        sent: list[Any] = messages(number, options)
        if not options.binary:
            sent = [m.decode("ascii") for m in sent]
        tasks.append(asyncio.create_task(run(number, ws, sent, meter, go)))
        if meter.connectionOpened():
            go.set()

    tasks: list[asyncio.Task[None]] = []
    opening = [asyncio.create_task(open(n)) for n in range(options.conns)]
    await finished.wait()
    for task in opening:
        task.cancel()
    closing = [asyncio.create_task(ws.close()) for ws in conns]
    if closing:
        await asyncio.wait(closing, timeout=CLOSE_GRACE)
    for task in tasks + closing:
        task.cancel()
    await asyncio.gather(*tasks, *closing, *opening, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())
