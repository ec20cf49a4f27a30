"""
An echo server on Python's C{websockets} (asyncio), for the client's interop
tests: prints its port, echoes every message, C{frag:...} in 3-byte
fragments, and closes with the code of C{close:CODE}.

    python websockets_echo.py [--no-deflate]
"""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.server import ServerConnection, serve


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        if isinstance(message, str) and message.startswith("close:"):
            await ws.close(int(message[6:]), "asked")
            return
        if isinstance(message, str) and message.startswith("frag:"):
            await ws.send(message[i : i + 3] for i in range(0, len(message), 3))
            continue
        await ws.send(message)


async def main() -> None:
    compression = None if "--no-deflate" in sys.argv else "deflate"
    async with serve(echo, "127.0.0.1", 0, compression=compression, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        await asyncio.get_running_loop().create_future()


asyncio.run(main())
