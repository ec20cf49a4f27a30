# -*- test-case-name: tests.hub.test_local -*-
"""
The hub of one process: L{LocalHub}, the default.

Channels, presence and history live in the process's memory, so they end
with it: a restarted process starts a new epoch, and a client that resumes
from an offset of the old one is told its history is lost.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from zope.interface import implementer

from ratchet_tx.hub.interfaces import IHub
from ratchet_tx.hub.rooms import BaseHub
from ratchet_tx.hub.values import (
    Delivery,
    HistoryLost,
    HistoryPolicy,
    Member,
    Message,
    Offset,
)


class _History:
    """
    One channel's kept messages: the newest C{size}, none older than
    C{age}, with the sequence number of the last one dropped.
    """

    __slots__ = ("dropped", "entries", "sequence")

    def __init__(self) -> None:
        self.sequence = 0
        self.dropped = 0
        self.entries: deque[tuple[float, Delivery]] = deque()

    def trim(self, policy: HistoryPolicy, now: float) -> None:
        entries = self.entries
        oldest = now - policy.age
        while entries and (len(entries) > policy.size or entries[0][0] < oldest):
            _, delivery = entries.popleft()
            self.dropped = delivery.offset.sequence


@implementer(IHub)
class LocalHub(BaseHub):
    """
    Channels within this process (see L{ratchet_tx.hub.IHub}): a publish
    reaches the channel's subscribers at once, framed once per protocol
    version for all of them.

    @ivar epoch: the epoch of every channel's history (new with each hub).
    """

    def __init__(
        self,
        policy: HistoryPolicy | None = None,
        *,
        now: Callable[[], float] = time.time,
        nodeId: str | None = None,
    ) -> None:
        """
        @param policy: how much history to keep per channel.
        @param now: the clock of the history's age limit (for tests).
        """
        super().__init__(policy, nodeId)
        self.epoch = f"{int(now() * 1000):x}{self.nodeId[:4]}"
        self._now = now
        self._histories: dict[str, _History] = {}

    def publish(self, channel: str, message: Message, exclude: object = None) -> Deferred[Offset]:
        """See L{ratchet_tx.hub.IHub.publish}; delivered before this returns."""
        if not isinstance(message, (str, bytes)):
            return fail(TypeError(f"a message is str or bytes, not {type(message).__name__}"))
        history = self._histories.get(channel)
        if history is None:
            history = self._histories[channel] = _History()
        history.sequence += 1
        offset = Offset(self.epoch, history.sequence)
        delivery = Delivery(channel, message, offset, self.excluded(exclude))
        now = self._now()
        if self.policy.size:
            history.entries.append((now, delivery))
        history.trim(self.policy, now)
        if not self.policy.size:
            history.dropped = history.sequence
        room = self.rooms.get(channel)
        if room is not None:
            room.deliver(delivery)
        return succeed(offset)

    def history(self, channel: str, since: Offset) -> Deferred[tuple[Offset, list[Delivery]]]:
        """What C{channel} kept after C{since} (see L{BaseHub.history})."""
        history = self._histories.get(channel)
        current = Offset(self.epoch, history.sequence if history is not None else 0)

        def lost(reason: str, missing: int | None = None) -> Deferred[Any]:
            return fail(HistoryLost(channel, since, current, reason, missing))

        if since.epoch != self.epoch:
            return lost("the history was lost (another epoch)")
        if since.sequence > current.sequence:
            return lost("the offset is ahead of the channel")
        if history is None:
            return succeed((current, []))
        history.trim(self.policy, self._now())
        if since.sequence < history.dropped:
            return lost("older than the history kept", history.dropped - since.sequence)
        missed = [d for _, d in history.entries if d.offset.sequence > since.sequence]
        return succeed((current, missed))

    def presence(self, channel: str) -> Deferred[list[Member]]:
        """See L{ratchet_tx.hub.IHub.presence}: this process's members."""
        return succeed(self.localMembers(channel))
