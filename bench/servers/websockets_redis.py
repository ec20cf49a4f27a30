"""
websockets across processes over Redis pub/sub, as websockets' own docs
show it ("Integrate with Django", "Broadcast events"): every process
subscribes to one Redis channel with redis-py's asyncio client and hands
what comes on it to websockets.broadcast() for its own clients.

    python websockets_redis.py --port 9000 --redis redis://127.0.0.1:6379/0

A text message starting with "B" is published on the channel (one PUBLISH,
awaited in the connection's handler, as a handler awaits any I/O); every
process, this one too, sends it to its clients but the sender.  Anything
else goes back to its sender.  The Redis payload is the sender's tag
("<pid>.<connection number>"), a newline, then the message: how a process
tells which of its clients sent it.
"""

import argparse
import asyncio
import itertools
import os

import redis.asyncio as aioredis
from websockets.asyncio.server import broadcast, serve

CHANNEL = "fanout"

clients = {}  # connection -> its tag (bytes)
numbers = itertools.count()


async def handler(ws, publisher):
    tag = f"{os.getpid()}.{next(numbers)}".encode()
    clients[ws] = tag
    try:
        async for message in ws:
            if isinstance(message, str) and message[:1] == "B":
                await publisher.publish(CHANNEL, tag + b"\n" + message.encode())
            else:
                await ws.send(message)
    finally:
        del clients[ws]


async def process_events(url):
    """Read the channel and broadcast each message to this process's clients."""
    subscriber = aioredis.from_url(url)
    pubsub = subscriber.pubsub()
    await pubsub.subscribe(CHANNEL)
    async for event in pubsub.listen():
        if event["type"] != "message":
            continue
        tag, _, data = event["data"].partition(b"\n")
        message = data.decode()
        broadcast((ws for ws, t in clients.items() if t != tag), message)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True, help="redis://HOST:PORT/DB")
    args = parser.parse_args()
    publisher = aioredis.from_url(args.redis)
    events = asyncio.create_task(process_events(args.redis))
    async with serve(
        lambda ws: handler(ws, publisher), args.host, args.port, max_size=None, compression=None
    ) as server:
        print(f"websockets-redis: pid {os.getpid()}, Redis {args.redis}", flush=True)
        await server.serve_forever()
    events.cancel()


if __name__ == "__main__":
    asyncio.run(main())
