# -*- test-case-name: tests.hub.test_commands -*-
"""
The hub's commands, returned by applications like any other::

    def onOpen(self, conn):
        return Subscribe(conn, "lobby", info={"name": conn.state.name})

    def onMessage(self, conn, message):
        return Publish("lobby", message, exclude=conn)

They use the process's hub (L{ratchet_tx.hub.context.currentHub}) unless
given one.  What the hub answers is followed as any command's result: a
failure (Redis unavailable, history lost) goes to the application's
C{onError} for the connection whose callback returned the command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from zope.interface import implementer

from ratchet_tx.hub.context import currentHub
from ratchet_tx.hub.interfaces import IHub
from ratchet_tx.hub.rooms import Render
from ratchet_tx.hub.values import Message, Offset
from ratchet_tx.interfaces import ICommand, IConnection


def _nothing(result: object) -> None:
    return None


@implementer(ICommand)
class Subscribe:
    """
    Add C{conn} to C{channel} until it unsubscribes or closes; with
    C{since} (an L{Offset} or its text), first replay what it missed.

    C{info} is what presence lists for it; C{render} turns each
    L{ratchet_tx.hub.Delivery} into what it is sent (see
    L{ratchet_tx.hub.IHub.subscribe}).  When what it missed cannot be
    replayed, C{onError} is given a L{ratchet_tx.hub.HistoryLost}, and the
    connection is live in the channel all the same.
    """

    __slots__ = ("channel", "conn", "hub", "info", "render", "since")

    def __init__(
        self,
        conn: IConnection,
        channel: str,
        since: Offset | str | None = None,
        *,
        info: Any = None,
        render: Render | None = None,
        hub: IHub | None = None,
    ) -> None:
        self.conn = conn
        self.channel = channel
        self.since = since
        self.info = info
        self.render = render
        self.hub = hub

    #: L{ratchet_tx.dispatch.carryOut} passes C{execute} the application's
    #: error handler: a message that cannot be sent to the subscriber later
    #: goes to the application's C{onError}, as a L{Broadcast}'s does.
    takesErrorHandler = True

    def execute(
        self, onError: Callable[[IConnection, Failure], object] | None = None
    ) -> Deferred[None]:
        hub = self.hub if self.hub is not None else currentHub()
        return hub.subscribe(
            self.conn,
            self.channel,
            since=self.since,
            info=self.info,
            render=self.render,
            onError=onError,
        ).addCallback(_nothing)

    def __repr__(self) -> str:
        return f"Subscribe({self.conn!r}, {self.channel!r}, since={self.since!r})"


@implementer(ICommand)
class Unsubscribe:
    """Take C{conn} out of C{channel}."""

    __slots__ = ("channel", "conn", "hub")

    def __init__(self, conn: IConnection, channel: str, *, hub: IHub | None = None) -> None:
        self.conn = conn
        self.channel = channel
        self.hub = hub

    def execute(self) -> Deferred[None]:
        hub = self.hub if self.hub is not None else currentHub()
        return hub.unsubscribe(self.conn, self.channel).addCallback(_nothing)

    def __repr__(self) -> str:
        return f"Unsubscribe({self.conn!r}, {self.channel!r})"


@implementer(ICommand)
class Publish:
    """
    Send C{message} to every subscriber of C{channel}, in every process of
    the hub, but those in C{exclude} (a connection or member id, or a
    collection of them); it is kept in the channel's history.
    """

    __slots__ = ("channel", "exclude", "hub", "message")

    def __init__(
        self,
        channel: str,
        message: Message,
        exclude: object = None,
        *,
        hub: IHub | None = None,
    ) -> None:
        self.channel = channel
        self.message = message
        self.exclude = exclude
        self.hub = hub

    def execute(self) -> Deferred[None]:
        hub = self.hub if self.hub is not None else currentHub()
        return hub.publish(self.channel, self.message, self.exclude).addCallback(_nothing)

    def __repr__(self) -> str:
        return f"Publish({self.channel!r}, {self.message!r}, exclude={self.exclude!r})"
