"""
websockets (asyncio implementation): echo, and text starting with "B" to
every other client with websockets.broadcast().

    python websockets_server.py --port 9000
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
    args = parser.parse_args()
    async with serve(handler, args.host, args.port, max_size=None, compression=None) as server:
        print(f"websockets: loop {type(asyncio.get_running_loop()).__name__}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
