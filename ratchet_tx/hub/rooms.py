# -*- test-case-name: tests.hub.test_local -*-
"""
A channel's subscribers in this process (L{Room}), and what every hub does
with them (L{BaseHub}): joining and leaving, leaving everything when a
connection closes, replaying history to a connection that resumes, and
sending one message to all of a channel's receivers at once.

Theory of operation
===================

A L{Room} holds one L{Subscription} per connection.  A message is delivered
through L{Room.deliver}: the receivers are grouped by their C{render}
function (most share the default, the message as published), each group
gets what its function made of the message, once, and that goes out through
L{ratchet_tx.commands.Broadcast}'s bulk path, which frames it once per
protocol version.  The groups are kept between messages and rebuilt only
when the room changes (L{Room.changed}: a subscription came, went, or began
or ended a replay).  A group none of whose subscriptions is being replayed
to is I{steady}: it keeps its connections in a tuple, and a message goes to
that tuple as it is, less the few connections the publisher excluded (found
by member id), with no work per receiver before the bulk path.

A connection that subscribes with C{since=} is not live at first: what the
room delivers meanwhile waits in its subscription (C{waiting}) while the
hub fetches what it missed.  Then it is sent the missed messages, then
those that waited and came after them, and only then goes live; its
C{floor} (the last offset it was sent) keeps the room from sending it again
a message it was already replayed.  No gap, no duplicate.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from ratchet_tx.commands import Broadcast
from ratchet_tx.hub.values import Delivery, HistoryPolicy, Member, Message, Offset
from ratchet_tx.interfaces import IConnection

#: Turns a delivery into what a receiver is sent.
Render = Callable[[Delivery], Message]

#: Told C{(conn, failure)} when a message cannot be sent to C{conn}.
SendFailed = Callable[[IConnection, Failure], object]

log = Logger()


def newNodeId() -> str:
    """A process's name in a hub: 48 random bits in hex (no collision in practice)."""
    return secrets.token_hex(6)


class Subscription:
    """
    One connection in one channel.

    @ivar conn: the connection.
    @ivar memberId: its id in the hub.
    @ivar info: what presence lists for it.
    @ivar render: what it is sent of a delivery (C{None}: the message).
    @ivar waiting: while it is being replayed what it missed, the live
        deliveries that wait; C{None} once it is live.
    @ivar floor: the last offset it was replayed, until the room delivers
        past it.
    @ivar onError: told C{(conn, failure)} when a message cannot be sent to
        it (the subscribing application's C{onError}); C{None}: logged.
    """

    __slots__ = ("conn", "floor", "info", "memberId", "onError", "render", "waiting")

    def __init__(
        self,
        conn: IConnection,
        memberId: str,
        info: Any,
        render: Render | None,
        onError: SendFailed | None = None,
    ) -> None:
        self.conn = conn
        self.onError = onError
        self.memberId = memberId
        self.info = info
        self.render = render
        self.waiting: list[Delivery] | None = None
        self.floor: Offset | None = None


def _reportSendFailure(
    subscription: Subscription | None, conn: IConnection, failure: Failure
) -> None:
    """Tell the subscriber's application, or log it when there is none to tell."""
    onError = None if subscription is None else subscription.onError
    if onError is None:
        log.failure("Sending a channel's message to {conn!r} failed", failure, conn=conn)
    else:
        onError(conn, failure)


def render(subscription: Subscription, delivery: Delivery) -> Message:
    """What C{subscription}'s connection is sent of C{delivery}."""
    make = subscription.render
    return delivery.message if make is None else make(delivery)


class _Group:
    """
    The subscriptions of a room that share one C{render} function, and, when
    it is steady (none is being replayed to), their connections.
    """

    __slots__ = ("byMember", "conns", "make", "steady", "subscriptions")

    def __init__(self, make: Render | None, subscriptions: list[Subscription]) -> None:
        self.make = make
        self.subscriptions = subscriptions
        self.steady = all(s.waiting is None and s.floor is None for s in subscriptions)
        self.conns = tuple(s.conn for s in subscriptions)
        self.byMember = {s.memberId: s.conn for s in subscriptions}

    def receivers(self, exclude: frozenset[str]) -> tuple[IConnection, ...] | list[IConnection]:
        """A steady group's connections less those whose member ids are in C{exclude}."""
        if exclude:
            byMember = self.byMember
            skip = {byMember[m] for m in exclude if m in byMember}
            if skip:
                return [c for c in self.conns if c not in skip]
        return self.conns


class Room:
    """
    The subscribers of one channel in this process, in the order they
    joined (see the module docstring).

    @ivar channel: the channel's name.
    @ivar subscriptions: each connection's L{Subscription}.
    """

    __slots__ = ("_groups", "channel", "subscriptions")

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.subscriptions: dict[IConnection, Subscription] = {}
        self._groups: list[_Group] | None = None

    def changed(self) -> None:
        """
        A subscription came, went, changed, or began or ended a replay:
        regroup at the next message.
        """
        self._groups = None

    def _regroup(self) -> list[_Group]:
        byRender: dict[Render | None, list[Subscription]] = {}
        for subscription in self.subscriptions.values():
            byRender.setdefault(subscription.render, []).append(subscription)
        groups = self._groups = [_Group(make, subs) for make, subs in byRender.items()]
        return groups

    def deliver(self, delivery: Delivery) -> None:
        """Send C{delivery} to every receiver it is for (module docstring)."""
        groups = self._groups
        if groups is None:
            groups = self._regroup()
        exclude = delivery.exclude
        for group in groups:
            conns = group.receivers(exclude) if group.steady else self._unsteady(group, delivery)
            if not conns:
                continue
            make = group.make
            try:
                message = delivery.message if make is None else make(delivery)
            except Exception:
                log.failure(
                    "Rendering a message of {channel!r} failed; not sent to {count} receivers",
                    channel=self.channel,
                    count=len(conns),
                )
                continue
            Broadcast(conns, message).execute(self._sendFailed)

    def _unsteady(self, group: _Group, delivery: Delivery) -> list[IConnection]:
        """
        The receivers of C{delivery} in a group some of whose subscriptions
        are being replayed to, or were replayed past it: those wait for
        it, or skip it.
        """
        exclude = delivery.exclude
        conns = []
        settled = False
        for subscription in group.subscriptions:
            if subscription.waiting is not None:
                subscription.waiting.append(delivery)
                continue
            floor = subscription.floor
            if floor is not None:
                offset = delivery.offset
                if offset.epoch == floor.epoch and offset.sequence <= floor.sequence:
                    continue
                subscription.floor = None
                settled = True
            if exclude and subscription.memberId in exclude:
                continue
            conns.append(subscription.conn)
        if settled:
            self.changed()  # the group may be steady now
        return conns

    def _sendFailed(self, conn: IConnection | None, failure: Failure) -> None:
        assert conn is not None  # Broadcast names the receiver
        _reportSendFailure(self.subscriptions.get(conn), conn, failure)


class BaseHub(Service):
    """
    What L{ratchet_tx.hub.LocalHub} and L{ratchet_tx.hub.RedisHub} share:
    the rooms of this process, subscribing and leaving, and replaying
    history to a connection that subscribes with C{since=}.

    Subclasses say how a channel is opened and closed in the process, how
    its history is read, and how presence is kept.  It is an
    L{twisted.application.service.IService}: stopping it closes it.

    @ivar nodeId: this process's name in the hub.
    @ivar policy: the L{HistoryPolicy}.
    @ivar rooms: the channels with subscribers in this process.
    """

    def __init__(self, policy: HistoryPolicy | None = None, nodeId: str | None = None) -> None:
        self.policy = policy if policy is not None else HistoryPolicy()
        self.nodeId = nodeId if nodeId is not None else newNodeId()
        self.rooms: dict[str, Room] = {}
        # The channels of each connection, and whether it is watched for its close.
        self._memberships: dict[IConnection, set[str]] = {}

    def memberId(self, conn: IConnection) -> str:
        """See L{ratchet_tx.hub.IHub.memberId}."""
        return f"{self.nodeId}.{conn.id}"

    def excluded(self, exclude: object) -> frozenset[str]:
        """The member ids C{exclude} names (a connection, an id, or a collection)."""
        if exclude is None:
            return frozenset()
        if isinstance(exclude, str) or IConnection.providedBy(exclude):
            exclude = (exclude,)
        return frozenset(
            item if isinstance(item, str) else self.memberId(item)
            for item in exclude  # type: ignore[attr-defined]
        )

    # Subscribing.

    def subscribe(
        self,
        conn: IConnection,
        channel: str,
        since: Offset | str | None = None,
        info: Any = None,
        render: Render | None = None,
        onError: SendFailed | None = None,
    ) -> Deferred[None]:
        """See L{ratchet_tx.hub.IHub.subscribe}."""
        start = Offset.parse(since) if since is not None else None
        if conn.closed:
            return succeed(None)
        room = self.rooms.get(channel)
        opened = room is None
        if room is None:
            room = self.rooms[channel] = Room(channel)
        subscription = room.subscriptions.get(conn)
        if subscription is None:
            subscription = Subscription(conn, self.memberId(conn), info, render, onError)
            room.subscriptions[conn] = subscription
            self._watch(conn).add(channel)
        else:
            subscription.info = info
            subscription.render = render
            subscription.onError = onError
        room.changed()
        if start is not None:
            subscription.waiting = []
        ready = self.openRoom(room) if opened else self.whenOpen(room)
        self.joined(room, subscription)
        if start is None:
            return ready
        return ready.addCallback(lambda _: self._resume(room, subscription, start))

    def _watch(self, conn: IConnection) -> set[str]:
        channels = self._memberships.get(conn)
        if channels is None:
            channels = self._memberships[conn] = set()
            conn.addCloseCallback(lambda _: self._closed(conn))
        return channels

    def _resume(self, room: Room, subscription: Subscription, since: Offset) -> Deferred[None]:
        """Replay what C{subscription} missed since C{since}, then make it live."""
        d = self.history(room.channel, since)

        def replay(result: tuple[Offset, list[Delivery]]) -> None:
            current, missed = result
            for delivery in missed:
                if subscription.memberId not in delivery.exclude:
                    self._sendOne(subscription, delivery)
            self._goLive(room, subscription, current)

        def lost(failure: Failure) -> Failure:
            self._goLive(room, subscription, None)
            return failure

        return d.addCallbacks(replay, lost)

    def _sendOne(self, subscription: Subscription, delivery: Delivery) -> None:
        try:
            subscription.conn.send(render(subscription, delivery))
        except Exception:
            _reportSendFailure(subscription, subscription.conn, Failure())

    def _goLive(self, room: Room, subscription: Subscription, floor: Offset | None) -> None:
        """Send what waited (after C{floor}), then let the room deliver to it."""
        waiting, subscription.waiting = subscription.waiting or [], None
        if room.subscriptions.get(subscription.conn) is not subscription:
            return  # it left meanwhile
        for delivery in waiting:
            offset = delivery.offset
            if floor is not None and offset.epoch == floor.epoch:
                if offset.sequence <= floor.sequence:
                    continue
            if subscription.memberId not in delivery.exclude:
                self._sendOne(subscription, delivery)
            floor = offset
        subscription.floor = floor
        room.changed()  # no longer waiting (the floor goes with the next message past it)

    # Leaving.

    def unsubscribe(self, conn: IConnection, channel: str) -> Deferred[None]:
        """See L{ratchet_tx.hub.IHub.unsubscribe}."""
        channels = self._memberships.get(conn)
        if channels is not None:
            channels.discard(channel)
        self._leave(conn, channel)
        return succeed(None)

    def _leave(self, conn: IConnection, channel: str) -> None:
        room = self.rooms.get(channel)
        if room is None:
            return
        subscription = room.subscriptions.pop(conn, None)
        if subscription is None:
            return
        room.changed()
        self.left(room, subscription)
        if not room.subscriptions:
            del self.rooms[channel]
            self.closeRoom(room)

    def _closed(self, conn: IConnection) -> None:
        for channel in sorted(self._memberships.pop(conn, ())):
            self._leave(conn, channel)

    def leaveAll(self) -> None:
        """Take every connection out of every channel (when the hub closes)."""
        for conn in list(self._memberships):
            self._closed(conn)
        self._memberships.clear()

    def stopService(self) -> Deferred[None]:
        """Close the hub (see L{ratchet_tx.hub.IHub.close})."""
        Service.stopService(self)
        return self.close()

    # What the subclasses provide.

    def openRoom(self, room: Room) -> Deferred[None]:
        """
        C{room} got its first subscriber: start receiving its channel.

        @return: a Deferred that fires once messages published from now on
            reach the room.
        """
        return succeed(None)

    def whenOpen(self, room: Room) -> Deferred[None]:
        """A Deferred that fires once C{room} (opened before) receives its channel."""
        return succeed(None)

    def closeRoom(self, room: Room) -> None:
        """C{room} lost its last subscriber: stop receiving its channel."""

    def joined(self, room: Room, subscription: Subscription) -> None:
        """C{subscription} joined C{room} (or changed its info): update presence."""

    def left(self, room: Room, subscription: Subscription) -> None:
        """C{subscription} left C{room}: update presence."""

    def history(self, channel: str, since: Offset) -> Deferred[tuple[Offset, list[Delivery]]]:
        """
        What C{channel} published after C{since}, and its latest offset.

        @return: a Deferred of C{(current, deliveries)}, failing with
            L{HistoryLost} when not all of it is kept.
        """
        raise NotImplementedError

    def close(self) -> Deferred[None]:
        """See L{ratchet_tx.hub.IHub.close}."""
        self.leaveAll()
        return succeed(None)

    # Presence in this process.

    def localMembers(self, channel: str) -> list[Member]:
        """The members of C{channel} in this process, in the order they joined."""
        room = self.rooms.get(channel)
        if room is None:
            return []
        return [Member(s.memberId, s.info) for s in room.subscriptions.values()]
