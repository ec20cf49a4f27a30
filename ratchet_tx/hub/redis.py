# -*- test-case-name: tests.hub.test_redis -*-
"""
The hub across processes: L{RedisHub}, on the project's own Redis client
(L{ratchet_tx.redis}).

Theory of operation
===================

A publish is one script (L{ratchet_tx.hub.wire}) that numbers the message
in its channel (an epoch and a sequence number: its offset), keeps it in a
bounded stream and publishes it on the channel's pub/sub channel.  Each
process subscribes once per channel it has subscribers for, whatever their
number, and delivers what comes to its room (framed once per version);
the writes to its connections are held while one read of the subscription
is delivered, so a burst of messages costs each receiver one write.

Each process remembers the last offset it delivered per channel.  A message
whose sequence number skips one (pub/sub lost messages: the subscriber's
connection dropped) or whose epoch changed (Redis lost the history) makes
the process catch up from the stream before it delivers anything newer;
after each reconnection of the subscriber it catches up every channel.
What the stream no longer holds is counted in L{RedisHub.lost} and logged,
one line per gap.

Presence is a hash per channel; each process keeps a key of its own alive
(L{RedisHub.heartbeat} seconds, expiring after two), and a member whose
process's key is gone is not listed (and removed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ratchet_tx.connection import heldWrites
from ratchet_tx.hub import wire
from ratchet_tx.hub.interfaces import IHub
from ratchet_tx.hub.rooms import BaseHub, Room, Subscription
from ratchet_tx.hub.values import Delivery, HistoryLost, HistoryPolicy, Member, Message, Offset
from ratchet_tx.redis.client import RedisClient
from ratchet_tx.redis.errors import RedisUnavailable
from ratchet_tx.redis.subscriber import PING_INTERVAL, RedisSubscriber

#: How often a process says it is alive, in seconds.
HEARTBEAT = 5.0

#: How long a channel's epoch outlives its last message, in seconds.
EPOCH_TTL = 86400

#: The most live messages a channel holds while it catches up.
MAX_WAITING = 10_000

log = Logger()


def holdingWrites(handleRead: Callable[[], object]) -> None:
    """
    Handle one read of the subscriber with the connections' writes held
    (L{ratchet_tx.connection.heldWrites}), as a server holds them while it
    handles a client's read: the messages of one read reach each receiver
    in one write, not one write per message.
    """
    heldWrites.hold()
    try:
        handleRead()
    finally:
        heldWrites.release()


class _Channel:
    """This process's place in one channel: the last offset delivered."""

    __slots__ = ("last", "live", "readyWaiters", "waiting")

    def __init__(self) -> None:
        self.last: Offset | None = None
        # Deliveries that came while catching up; None when not catching up.
        self.waiting: list[Delivery] | None = None
        self.live = False
        self.readyWaiters: list[Deferred[None]] = []


@implementer(IHub)
class RedisHub(BaseHub):
    """
    Channels shared by every process that uses the same Redis (see the
    module docstring and L{ratchet_tx.hub.IHub}).

    @ivar lost: messages a channel's history no longer held when this
        process had to catch up.
    @ivar malformed: pub/sub payloads that were not in the wire format.
    """

    def __init__(
        self,
        url: str,
        policy: HistoryPolicy | None = None,
        *,
        reactor: Any = None,
        prefix: str = "ratchet",
        heartbeat: float = HEARTBEAT,
        nodeId: str | None = None,
        pingInterval: float = PING_INTERVAL,
        **options: Any,
    ) -> None:
        """
        @param url: the Redis to use, C{redis://host:port/db}.
        @param policy: how much history each channel keeps.
        @param prefix: the first part of every key and channel name.
        @param heartbeat: how often this process says it is alive; its
            members vanish from presence within two once it is gone.
        @param pingInterval: how often the subscriber's connection is
            checked with C{PING}, in seconds: a Redis that vanished without
            closing it (a host cut off, not stopped) is noticed within this
            plus C{commandTimeout}.  The client's connection needs no check:
            the heartbeat's commands time out.
        @param options: for L{RedisClient} and L{RedisSubscriber}.
        """
        super().__init__(policy, nodeId)
        if reactor is None:
            from twisted.internet import reactor as defaultReactor

            reactor = defaultReactor
        self.prefix = prefix
        self.heartbeat = heartbeat
        self.lost = 0
        self.malformed = 0
        self._reactor = reactor
        self._channels: dict[str, _Channel] = {}
        self._byPubSub: dict[bytes, str] = {}
        self.client = RedisClient(reactor, url, **options)
        self.subscriber = RedisSubscriber(
            reactor,
            url,
            self._received,
            onReconnect=self._reconnected,
            pingInterval=pingInterval,
            aroundRead=holdingWrites,
            **options,
        )
        self._nodeKey = f"{prefix}:node:{self.nodeId}"
        self._beat = LoopingCall(self._heartbeat)
        self._beat.clock = reactor
        self._beat.start(heartbeat, now=True)

    # Names.

    def _key(self, kind: str, channel: str) -> str:
        return f"{self.prefix}:{kind}:{channel}"

    # Publishing.

    def publish(self, channel: str, message: Message, exclude: object = None) -> Deferred[Offset]:
        """See L{ratchet_tx.hub.IHub.publish}."""
        if isinstance(message, str):
            kind, data = b"t", message.encode("utf-8")
        elif isinstance(message, bytes):
            kind, data = b"b", message
        else:
            return fail(TypeError(f"a message is str or bytes, not {type(message).__name__}"))
        policy = self.policy
        d = self.client.runScript(
            wire.PUBLISH,
            keys=[self._key("history", channel), self._key("meta", channel)],
            args=[
                self._key("channel", channel),
                kind,
                data,
                wire.encodeExclude(self.excluded(exclude)),
                self.nodeId,
                policy.size,
                int(policy.age * 1000),
                EPOCH_TTL * 1000,
            ],
        )
        return d.addCallback(lambda reply: Offset(reply[0].decode("ascii"), int(reply[1])))

    # Receiving.

    def openRoom(self, room: Room) -> Deferred[None]:
        state = self._channels[room.channel] = _Channel()
        name = self._key("channel", room.channel).encode("utf-8")
        self._byPubSub[name] = room.channel
        ready = self.whenOpen(room)

        def confirmed(_: object) -> None:
            self._live(room.channel, state)

        def notYet(failure: Failure) -> None:
            if not failure.check(RedisUnavailable):
                waiters, state.readyWaiters = state.readyWaiters, []
                for waiter in waiters:
                    waiter.errback(failure)
            # Else: subscribed once Redis is back; _reconnected tells.

        self.subscriber.subscribe(name).addCallbacks(confirmed, notYet)
        return ready

    def whenOpen(self, room: Room) -> Deferred[None]:
        state = self._channels[room.channel]
        if state.live:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        state.readyWaiters.append(waiter)
        return waiter

    def _live(self, channel: str, state: _Channel) -> None:
        if self._channels.get(channel) is not state:
            return
        state.live = True
        waiters, state.readyWaiters = state.readyWaiters, []
        for waiter in waiters:
            waiter.callback(None)

    def closeRoom(self, room: Room) -> None:
        self._channels.pop(room.channel, None)
        name = self._key("channel", room.channel).encode("utf-8")
        self._byPubSub.pop(name, None)
        self.subscriber.unsubscribe(name).addErrback(lambda _: None)

    def _received(self, name: bytes, payload: bytes) -> None:
        channel = self._byPubSub.get(name)
        if channel is None:
            return
        try:
            delivery = wire.decodePayload(channel, payload)
        except wire.MalformedPayload as error:
            self.malformed += 1
            log.warn("Dropped a message on {channel!r}: {error}", channel=channel, error=error)
            return
        state = self._channels[channel]
        if state.waiting is not None:
            if len(state.waiting) < MAX_WAITING:
                state.waiting.append(delivery)
            else:
                self.lost += 1
            return
        self._accept(channel, state, delivery)

    def _accept(self, channel: str, state: _Channel, delivery: Delivery) -> None:
        last, offset = state.last, delivery.offset
        if last is not None and last.epoch == offset.epoch:
            if offset.sequence <= last.sequence:
                return  # delivered already
            if offset.sequence > last.sequence + 1:
                state.waiting = [delivery]
                self._catchUp(channel, state)
                return
        elif last is not None:
            state.waiting = [delivery]
            self._catchUp(channel, state)
            return
        state.last = offset
        room = self.rooms.get(channel)
        if room is not None:
            room.deliver(delivery)

    def _reconnected(self) -> None:
        """The subscriber is back: open what waited, catch every channel up."""
        for channel, state in list(self._channels.items()):
            self._live(channel, state)
            if state.last is not None and state.waiting is None:
                state.waiting = []
                self._catchUp(channel, state)

    def _recover(self, channel: str, since: Offset) -> Deferred[Any]:
        return self.client.runScript(
            wire.RECOVER,
            keys=[self._key("history", channel), self._key("meta", channel)],
            args=[
                since.epoch,
                since.sequence,
                max(self.policy.size, 1),
                int(self.policy.age * 1000),
            ],
        )

    def _catchUp(self, channel: str, state: _Channel) -> None:
        """Deliver what the channel published after C{state.last}, then what waited."""
        since = state.last
        assert since is not None

        def caughtUp(reply: list[Any]) -> None:
            if self._channels.get(channel) is not state:
                return
            epoch, last, entries = reply
            if epoch is not None:
                current = Offset(epoch.decode("ascii"), int(last))
                start = since.sequence if current.epoch == since.epoch else 0
                missed = [self._entry(channel, current.epoch, e) for e in reversed(entries)]
                missing = current.sequence - start - len(missed)
                if current.epoch != since.epoch:
                    log.warn(
                        "History of {channel!r} restarted (epoch {old} -> {new}): messages "
                        "after {since} not delivered yet are lost",
                        channel=channel,
                        old=since.epoch,
                        new=current.epoch,
                        since=since,
                    )
                if missing > 0:
                    self.lost += missing
                    log.warn(
                        "{missing} messages of {channel!r} after {since} were lost: "
                        "no longer in its history",
                        missing=missing,
                        channel=channel,
                        since=since,
                    )
                room = self.rooms.get(channel)
                for delivery in missed:
                    if room is not None:
                        room.deliver(delivery)
                state.last = current
            self._flush(channel, state)

        def failed(failure: Failure) -> None:
            if self._channels.get(channel) is not state:
                return
            log.warn(
                "Could not catch {channel!r} up from {since}: {error}; retrying",
                channel=channel,
                since=since,
                error=failure.getErrorMessage(),
            )
            self._reactor.callLater(1.0, self._retry, channel, state)

        self._recover(channel, since).addCallbacks(caughtUp, failed)

    def _retry(self, channel: str, state: _Channel) -> None:
        if self._channels.get(channel) is state:
            self._catchUp(channel, state)

    def _flush(self, channel: str, state: _Channel) -> None:
        waiting, state.waiting = state.waiting or [], None
        room = self.rooms.get(channel)
        for delivery in waiting:
            last, offset = state.last, delivery.offset
            if last is not None and last.epoch == offset.epoch and offset.sequence <= last.sequence:
                continue
            state.last = offset
            if room is not None:
                room.deliver(delivery)

    def _entry(self, channel: str, epoch: str, entry: list[bytes]) -> Delivery:
        sequence, kind, data, exclude = entry
        return Delivery(
            channel,
            wire.decodeMessage(kind, data),
            Offset(epoch, int(sequence)),
            wire.decodeExclude(exclude),
        )

    def history(self, channel: str, since: Offset) -> Deferred[tuple[Offset, list[Delivery]]]:
        """What C{channel} kept after C{since} (see L{BaseHub.history})."""

        def read(reply: list[Any]) -> tuple[Offset, list[Delivery]]:
            epoch, last, entries = reply
            if epoch is None:
                raise HistoryLost(channel, since, None, "the channel has no history")
            current = Offset(epoch.decode("ascii"), int(last))
            if current.epoch != since.epoch:
                raise HistoryLost(channel, since, current, "the history was lost (another epoch)")
            if since.sequence > current.sequence:
                raise HistoryLost(channel, since, current, "the offset is ahead of the channel")
            missed = [self._entry(channel, epoch.decode("ascii"), e) for e in reversed(entries)]
            missing = current.sequence - since.sequence - len(missed)
            if missing > 0:
                raise HistoryLost(channel, since, current, "older than the history kept", missing)
            return current, missed

        def unavailable(failure: Failure) -> Failure:
            if failure.check(RedisUnavailable):
                raise HistoryLost(channel, since, None, failure.getErrorMessage())
            return failure

        return self._recover(channel, since).addCallbacks(read, unavailable)

    # Presence.

    def _memberJSON(self, subscription: Subscription) -> str:
        return json.dumps({"info": subscription.info, "at": int(time.time() * 1000)})

    def joined(self, room: Room, subscription: Subscription) -> None:
        ttl = int(self.heartbeat * 2000)
        self.client.execute("SET", self._nodeKey, "1", "PX", ttl).addErrback(lambda _: None)
        self.client.execute(
            "HSET",
            self._key("presence", room.channel),
            subscription.memberId,
            self._memberJSON(subscription),
        ).addErrback(lambda _: None)

    def left(self, room: Room, subscription: Subscription) -> None:
        self.client.execute(
            "HDEL", self._key("presence", room.channel), subscription.memberId
        ).addErrback(lambda _: None)

    def presence(self, channel: str) -> Deferred[list[Member]]:
        """See L{ratchet_tx.hub.IHub.presence}."""

        def members(reply: list[bytes]) -> list[Member]:
            found = []
            for i in range(0, len(reply), 2):
                try:
                    value = json.loads(reply[i + 1])
                    found.append((value.get("at", 0), reply[i].decode(), value.get("info")))
                except (ValueError, AttributeError):
                    continue
            found.sort(key=lambda item: (item[0], item[1]))
            return [Member(memberId, info) for _, memberId, info in found]

        return self.client.runScript(
            wire.PRESENCE, keys=[self._key("presence", channel)], args=[f"{self.prefix}:node:"]
        ).addCallback(members)

    def _heartbeat(self) -> None:
        ttl = int(self.heartbeat * 2000)
        d = self.client.runScript(wire.HEARTBEAT, keys=[self._nodeKey], args=[ttl])
        d.addCallbacks(self._beaten, lambda _: None)

    def _beaten(self, gone: int) -> None:
        if not gone:
            return
        for room in self.rooms.values():
            for subscription in room.subscriptions.values():
                self.joined(room, subscription)

    # Closing.

    def close(self) -> Deferred[None]:
        """Leave every channel, forget this process's presence, close the connections."""
        if self._beat.running:
            self._beat.stop()
        self.leaveAll()
        self.client.execute("DEL", self._nodeKey).addErrback(lambda _: None)
        from twisted.internet.defer import gatherResults

        return gatherResults([self.client.close(), self.subscriber.close()]).addCallback(
            lambda _: None
        )
