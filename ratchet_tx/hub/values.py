# -*- test-case-name: tests.hub.test_values -*-
"""
What a hub hands around: where a message is in its channel's history
(L{Offset}), a message with its offset (L{Delivery}), who is in a channel
(L{Member}), the bounds of a channel's history (L{HistoryPolicy}), and what
the application is told when history cannot fill a gap (L{HistoryLost}).

Pure values: no Twisted, no Redis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: A message as applications send it: C{str} for text, C{bytes} for binary.
Message = str | bytes


@dataclass(frozen=True, order=True)
class Offset:
    """
    Where a message is in its channel's history: the I{epoch} of the history
    and the message's I{sequence} number in it (1, 2, 3, ... without gaps).

    The epoch changes whenever the history is lost (Redis restarted empty,
    the channel's history expired, a L{ratchet_tx.hub.LocalHub}'s process
    restarted); sequence numbers from another epoch cannot be compared.

    Its text form, C{"<epoch>:<sequence>"}, is what a client keeps and sends
    back to resume (L{Offset.parse} reads it).
    """

    epoch: str
    sequence: int

    def __post_init__(self) -> None:
        if not self.epoch or ":" in self.epoch or any(c.isspace() for c in self.epoch):
            raise ValueError(f"an epoch is a non-empty word without ':': {self.epoch!r}")
        if self.sequence < 0:
            raise ValueError(f"a sequence number is not negative: {self.sequence!r}")

    @classmethod
    def parse(cls, text: str | Offset) -> Offset:
        """
        Read C{"<epoch>:<sequence>"} (as C{str} gives it).

        @raise ValueError: C{text} is not an offset.
        """
        if isinstance(text, Offset):
            return text
        epoch, colon, sequence = str(text).rpartition(":")
        if not colon or not sequence.isdigit() or len(sequence) > 20:
            raise ValueError(f"not an offset (epoch:sequence): {text!r}")
        return cls(epoch, int(sequence))

    def __str__(self) -> str:
        return f"{self.epoch}:{self.sequence}"


@dataclass(frozen=True)
class Delivery:
    """
    One message of a channel, as a hub delivers it.

    @ivar channel: the channel's name.
    @ivar message: what was published (C{str} or C{bytes}).
    @ivar offset: its place in the channel's history.
    @ivar exclude: the member ids it must not be sent to.
    """

    channel: str
    message: Message
    offset: Offset
    exclude: frozenset[str] = field(default=frozenset())


@dataclass(frozen=True)
class Member:
    """
    One connection in a channel, as L{ratchet_tx.hub.IHub.presence} lists it.

    @ivar id: the member id, unique across every process of the hub
        (L{ratchet_tx.hub.IHub.memberId}).
    @ivar info: what the application gave when it subscribed (JSON-able).
    """

    id: str
    info: Any = None


@dataclass(frozen=True)
class HistoryPolicy:
    """
    How much history a hub keeps per channel: at most C{size} messages, none
    older than C{age} seconds.  A C{size} of 0 keeps none (offsets are still
    given, so gaps are still noticed).
    """

    size: int = 100
    age: float = 300.0

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("the history size must be at least 0")
        if self.age <= 0:
            raise ValueError("the history age must be positive")


class HistoryLost(Exception):
    """
    What a connection missed cannot be replayed: the offset is older than
    the history kept, or from another epoch (the history was lost).

    Subscribing with C{since=} fails with it (after the subscription went
    live), so the application's C{onError} can tell the client to reload.

    @ivar channel: the channel.
    @ivar since: the offset asked for.
    @ivar current: the channel's latest offset, if known.
    @ivar missing: how many messages could not be replayed, if known.
    """

    def __init__(
        self,
        channel: str,
        since: Offset,
        current: Offset | None,
        reason: str,
        missing: int | None = None,
    ) -> None:
        super().__init__(f"cannot replay {channel!r} since {since}: {reason}")
        self.channel = channel
        self.since = since
        self.current = current
        self.reason = reason
        self.missing = missing
