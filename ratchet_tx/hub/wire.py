# -*- test-case-name: tests.hub.test_redis -*-
"""
The wire format of L{ratchet_tx.hub.RedisHub}, which any Redis client may
speak (a Django or Flask view with redis-py, say).

Keys and channels, for a channel C{C} and the prefix C{ratchet}::

    ratchet:history:C    stream of the kept messages (fields n, t, d, x, o)
    ratchet:meta:C       hash: epoch, seq (the last sequence number)
    ratchet:presence:C   hash: member id -> {"info": ..., "at": ms}
    ratchet:node:N       exists while node N (a process) is alive
    ratchet:channel:C    the pub/sub channel the processes subscribe to

To publish, run the script C{lua/publish.lua} (beside this module) with
C{EVAL}: it numbers the message, keeps it in the history and publishes on
the pub/sub channel, atomically.  What it publishes is one header line,
then the message::

    r1 <epoch> <sequence> <t|b> <origin node|-> <excluded member ids, comma-separated|->\\n<message>
"""

from __future__ import annotations

from pathlib import Path

from ratchet_tx.hub.values import Delivery, Offset
from ratchet_tx.redis.script import Script

_LUA = Path(__file__).resolve().parent / "lua"

#: The scripts, by name: publish, recover, presence, heartbeat.
PUBLISH = Script((_LUA / "publish.lua").read_bytes())
RECOVER = Script((_LUA / "recover.lua").read_bytes())
PRESENCE = Script((_LUA / "presence.lua").read_bytes())
HEARTBEAT = Script((_LUA / "heartbeat.lua").read_bytes())

NONE = b"-"


class MalformedPayload(ValueError):
    """What came on a hub's pub/sub channel is not in the wire format."""


def encodeExclude(exclude: frozenset[str]) -> bytes:
    return ",".join(sorted(exclude)).encode("utf-8") if exclude else NONE


def decodeExclude(raw: bytes) -> frozenset[str]:
    return frozenset() if raw in (NONE, b"") else frozenset(raw.decode("utf-8").split(","))


def decodeMessage(kind: bytes, data: bytes) -> str | bytes:
    if kind == b"t":
        return data.decode("utf-8")
    if kind == b"b":
        return data
    raise MalformedPayload(f"unknown kind {kind!r}")


def decodePayload(channel: str, payload: bytes) -> Delivery:
    """
    Read one pub/sub payload.

    @raise MalformedPayload: it is not in the wire format.
    """
    header, newline, data = payload.partition(b"\n")
    fields = header.split(b" ")
    if not newline or len(fields) != 6 or fields[0] != b"r1" or not fields[2].isdigit():
        raise MalformedPayload(f"not a hub message: {payload[:80]!r}")
    try:
        offset = Offset(fields[1].decode("ascii"), int(fields[2]))
        return Delivery(channel, decodeMessage(fields[3], data), offset, decodeExclude(fields[5]))
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedPayload(f"not a hub message: {error}") from None
