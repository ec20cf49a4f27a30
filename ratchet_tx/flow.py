# -*- test-case-name: tests.test_flow -*-
"""
Flow control toward slow consumers: how much may be queued for a peer that
does not read, and what happens beyond that.

A connection is I{backed up} while more than C{highWaterMark} bytes wait in
its transport's write buffer.  While backed up, the server stops reading from
that peer (so a client's own request/response traffic cannot outrun it) and
applies the L{SlowConsumer} policy to further messages sent to it, which is
what bounds fan-out traffic (a broadcast to a client that stopped reading).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

KiB = 1024
MiB = 1024 * KiB

#: Bytes waiting in a transport beyond which its connection is backed up.
DEFAULT_HIGH_WATER_MARK = 64 * KiB
#: Bytes waiting beyond which a backed-up connection under the QUEUE policy
#: is closed (with L{CloseCode.POLICY_VIOLATION
#: <ratchet_tx.websocket.codecs.closecodes.CloseCode.POLICY_VIOLATION>}).
DEFAULT_MAX_BUFFERED = 4 * MiB


class SlowConsumer(Enum):
    """What to do with messages sent to a backed-up connection."""

    #: Queue them, up to C{maxBuffered} bytes; beyond, close the connection.
    QUEUE = "queue"
    #: Drop them (counted in C{conn.droppedMessages}) until it catches up.
    DROP = "drop"
    #: Close the connection ("slow consumer", a policy violation) as soon as
    #: it backs up.
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class FlowControl:
    """
    The flow-control settings of a L{ratchet_tx.server.Server}.

    @ivar highWaterMark: bytes waiting to be sent to a peer beyond which it
        is backed up: reading from it pauses and C{slowConsumer} applies.
    @ivar maxBuffered: bytes that may wait for a backed-up peer under the
        C{queue} policy before it is closed (1008).
    @ivar slowConsumer: what to do with messages for a backed-up peer:
        C{queue} them (up to C{maxBuffered}), C{drop} them, or C{close} it
        (1008).
    """

    highWaterMark: int = field(default=DEFAULT_HIGH_WATER_MARK, metadata={"unit": "bytes"})
    maxBuffered: int = field(default=DEFAULT_MAX_BUFFERED, metadata={"unit": "bytes"})
    slowConsumer: SlowConsumer = SlowConsumer.QUEUE

    def __post_init__(self) -> None:
        if self.highWaterMark <= 0 or self.maxBuffered <= 0:
            raise ValueError("highWaterMark and maxBuffered must be positive")
        if self.maxBuffered < self.highWaterMark:
            raise ValueError("maxBuffered must be at least highWaterMark")
        object.__setattr__(self, "slowConsumer", SlowConsumer(self.slowConsumer))


def socketTransport(transport: Any) -> Any:
    """
    The transport that owns the socket under C{transport} (beneath TLS and
    other protocol wrappers).
    """
    while True:
        inner = getattr(transport, "transport", None)
        if inner is None or inner is transport:
            return transport
        transport = inner


def bufferedBytes(transport: Any) -> int:
    """
    How many bytes written to C{transport} have not reached the kernel yet.

    A transport that says (C{bufferedAmount}, as
    L{ratchet_tx.transport.WriteThroughServer} does) is taken at its word.
    Twisted has no public API for this; for its transports this reads the
    write buffers of L{twisted.internet.abstract.FileDescriptor} and of the
    TLS wrapper, and counts nothing for transports it does not know.
    """
    total = 0
    while transport is not None:
        pending = getattr(transport, "_appSendBuffer", None)  # TLS, mid-handshake
        if pending:
            total += sum(map(len, pending))
        amount = getattr(transport, "bufferedAmount", None)  # ratchet_tx.transport
        dataBuffer = getattr(transport, "dataBuffer", None)  # FileDescriptor
        if amount is not None:
            total += amount
        elif dataBuffer is not None:
            total += len(dataBuffer) - getattr(transport, "offset", 0)
            total += getattr(transport, "_tempDataLen", 0)
        inner = getattr(transport, "transport", None)
        transport = inner if inner is not transport else None
    return total
