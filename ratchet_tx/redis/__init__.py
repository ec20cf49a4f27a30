"""
A small Redis client for Twisted: pipelined commands over one connection
that reconnects by itself and never blocks or queues without bound
(L{RedisClient}), pub/sub on a connection of its own that resubscribes by
itself (L{RedisSubscriber}), and the sans-I/O RESP2 codec under them
(L{encodeCommand}, L{ReplyParser})::

    from ratchet_tx.redis import RedisClient, RedisUnavailable

    client = RedisClient(reactor, "redis://127.0.0.1:6379/0")
    try:
        value = yield client.get("key")
    except RedisUnavailable:
        ...  # no Redis right now: answer without it

Redis versions: RESP2, so any Redis; C{EVALSHA} needs 2.6 and C{AUTH} with
a user name 6.0.  The tests run against Debian's C{redis-server} 7.0.  Not
supported: RESP3, TLS (C{rediss://}), Cluster, Sentinel.
"""

from ratchet_tx.redis.backoff import Backoff
from ratchet_tx.redis.client import RedisClient
from ratchet_tx.redis.errors import (
    RedisError,
    RedisProtocolError,
    RedisTimeout,
    RedisUnavailable,
)
from ratchet_tx.redis.interfaces import IRedisClient, IRedisConnection, IRedisSubscriber
from ratchet_tx.redis.reconnect import State
from ratchet_tx.redis.resp import ReplyParser, encodeCommand
from ratchet_tx.redis.script import Script
from ratchet_tx.redis.subscriber import RedisSubscriber
from ratchet_tx.redis.url import RedisAddress, parseRedisURL

__all__ = [
    "Backoff",
    "IRedisClient",
    "IRedisConnection",
    "IRedisSubscriber",
    "RedisAddress",
    "RedisClient",
    "RedisError",
    "RedisProtocolError",
    "RedisSubscriber",
    "RedisTimeout",
    "RedisUnavailable",
    "ReplyParser",
    "Script",
    "State",
    "encodeCommand",
    "parseRedisURL",
]
