"""
websockets (asyncio implementation): echo, and text starting with "B" to
every other client with websockets.broadcast().

    python websockets_server.py --port 9000 [--deflate]

Compression is off unless --deflate: then permessage-deflate as websockets
configures it by default (compression="deflate": it agrees to the client's
no_context_takeover parameters, and compresses with a 4 KiB window,
server_max_window_bits=12, and memLevel 5).  broadcast() compresses every
receiver's copy on its own.
"""

import argparse
import asyncio

from websockets.asyncio.server import broadcast, serve

clients = set()


async def handler(ws):
    clients.add(ws)
    try:
        async for message in ws:
            if isinstance(message, str) and message[:1] == "B":
                broadcast((c for c in clients if c is not ws), message)
            else:
                await ws.send(message)
    finally:
        clients.discard(ws)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--deflate", action="store_true", help="permessage-deflate (default: off)")
    args = parser.parse_args()
    compression = "deflate" if args.deflate else None
    async with serve(
        handler, args.host, args.port, max_size=None, compression=compression
    ) as server:
        print(
            f"websockets: loop {type(asyncio.get_running_loop()).__name__}, "
            f"compression {compression}",
            flush=True,
        )
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
