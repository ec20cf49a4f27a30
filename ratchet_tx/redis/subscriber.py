# -*- test-case-name: tests.redis.test_subscriber -*-
"""
Redis pub/sub for Twisted: a connection of its own in subscribed mode, kept
up and resubscribed by itself::

    def onMessage(channel: bytes, data: bytes) -> None: ...
    def onReconnect() -> None: ...     # fetch what was missed from history

    subscriber = RedisSubscriber(reactor, "redis://127.0.0.1:6379", onMessage,
                                 onReconnect=onReconnect)
    yield subscriber.subscribe("chat:lobby", "chat:news")

A subscribed connection can send nothing but (un)subscriptions and C{PING},
so it cannot be shared with L{ratchet_tx.redis.client.RedisClient}: publish
with a client.

Messages go to C{onMessage(channel, data)} in the order Redis sends them,
from the reactor thread, as they are parsed; an exception in it is logged and
the next message is delivered.  With C{aroundRead}, each read's messages are
delivered inside it: C{aroundRead(deliver)} calls C{deliver()} once, and can
do something before the read's first message and after its last (the hub
holds its connections' writes so that a burst of messages costs each
receiver one write).  A pattern subscription's messages
(L{RedisSubscriber.psubscribe}) go there too, with the channel they were
published to; a channel that matches a pattern and is subscribed as well is
delivered twice, as Redis sends it twice.

The subscriber remembers what it is subscribed to.  When the connection is
lost it reconnects as the client does (backoff, one log line per outage),
subscribes to all of it again, and then -- once Redis confirmed every
subscription, before any later message -- calls C{onReconnect()}: whatever
was published meanwhile is lost to pub/sub, and the application recovers
it from wherever it keeps history.  C{onReconnect} is called after every
connection that restored at least one subscription, so also after the first
one when L{RedisSubscriber.subscribe} was called before it.

A subscription asked for while there is no connection (or while a new one
is still in its handshake) fails at once with L{RedisUnavailable}, and is
kept: it is made as soon as the connection is ready, and C{onReconnect}
tells when.  An unsubscription without a connection succeeds at once: the
next connection will not subscribe it.

Every C{pingInterval} seconds the subscriber sends C{PING}; a connection that
does not answer within C{commandTimeout} is replaced, so a server that
vanished without closing the connection is noticed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.logger import Logger
from zope.interface import implementer

from ratchet_tx.redis.errors import RedisError
from ratchet_tx.redis.interfaces import IRedisSubscriber
from ratchet_tx.redis.protocol import RedisProtocol, _short
from ratchet_tx.redis.reconnect import ConnectionOptions, ReconnectingRedis
from ratchet_tx.redis.resp import Argument, Reply, ReplyParser
from ratchet_tx.redis.url import RedisAddress

if TYPE_CHECKING:
    from typing_extensions import Unpack

#: How often an idle subscriber checks its connection with C{PING}, in seconds.
PING_INTERVAL = 30.0

_MESSAGE = b"message"
_PMESSAGE = b"pmessage"
_PONG = b"pong"
#: The replies that confirm a (un)subscription, one per channel or pattern.
_CONFIRMATIONS = frozenset([b"subscribe", b"unsubscribe", b"psubscribe", b"punsubscribe"])

_log = Logger()


#: Given the function that handles one read, calls it (see the module docstring).
AroundRead = Callable[[Callable[[], None]], object]


def _encode(names: tuple[Argument, ...]) -> list[bytes]:
    """Channel names as Redis sends them back: bytes (C{str} as UTF-8)."""
    return [n.encode("utf-8") if isinstance(n, str) else bytes(n) for n in names]  # type: ignore[arg-type]


class SubscriberProtocol(RedisProtocol):
    """
    A connection in subscribed mode: messages go to L{onMessage}, every
    other reply answers the oldest pending command, and must be the kind of
    reply it expects.

    @ivar onMessage: called with C{(channel, data)} for each message.
    @ivar aroundRead: if not C{None}, called with a function that handles
        one read (parses it, delivers its messages), which it must call.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.onMessage: Callable[[bytes, bytes], None] = lambda channel, data: None
        self.aroundRead: AroundRead | None = None

    def dataReceived(self, data: bytes) -> None:
        """Handle one read, inside L{aroundRead} if there is one."""
        aroundRead = self.aroundRead
        if aroundRead is None:
            super().dataReceived(data)
        else:
            aroundRead(lambda: RedisProtocol.dataReceived(self, data))

    def replyReceived(self, reply: Reply) -> None:
        """A message goes to L{onMessage}; any other reply answers a command."""
        kind = reply[0] if type(reply) is list and reply else None
        if kind == _MESSAGE or kind == _PMESSAGE:
            assert isinstance(reply, list)
            if len(reply) == (3 if kind == _MESSAGE else 4) and _areBytes(*reply[-2:]):
                self.onMessage(reply[-2], reply[-1])  # type: ignore[arg-type]
            else:
                self.drop(f"protocol error: a malformed message: {_short(reply)}")
            return
        if self.pending and not isinstance(reply, RedisError):
            expected = self.pending[0].kind
            if expected == _PONG:
                # PING is answered with an array once subscribed, with
                # +PONG while subscribed to nothing.
                matches = kind == _PONG or reply == "PONG"
            else:
                matches = kind == expected or (expected is None and kind not in _CONFIRMATIONS)
            if not matches:
                self.drop(f"protocol error: expected a {expected!r} reply, not {_short(reply)}")
                return
        super().replyReceived(reply)


def _areBytes(*values: object) -> bool:
    return all(type(value) is bytes for value in values)


@implementer(IRedisSubscriber)
class RedisSubscriber(ReconnectingRedis):
    """
    A pub/sub connection that reconnects and resubscribes by itself (see
    the module docstring).

    Like L{ratchet_tx.redis.client.RedisClient}, it is an
    L{twisted.application.service.IService} that connects when made and
    closes when stopped.

    @ivar channels: the channels it is subscribed to (or will be, once
        connected), as C{bytes}.
    @ivar patterns: the same for pattern subscriptions.
    @ivar pingInterval: how often the connection is checked, in seconds.
    """

    _role = "subscriber"

    def __init__(
        self,
        reactor: Any,
        url: str | RedisAddress,
        onMessage: Callable[[bytes, bytes], object],
        *,
        onReconnect: Callable[[], object] | None = None,
        aroundRead: AroundRead | None = None,
        pingInterval: float = PING_INTERVAL,
        **options: Unpack[ConnectionOptions],
    ) -> None:
        """
        Start connecting to C{url}.

        @param reactor: the reactor (its clock and its connections).
        @param url: as for L{ratchet_tx.redis.client.RedisClient}; the
            database number is ignored (pub/sub channels are not per
            database).
        @param onMessage: called with C{(channel, data)}, both C{bytes}, for
            each message.
        @param onReconnect: called with no argument after a connection
            restored the subscriptions (see the module docstring).
        @param aroundRead: called with the function that handles each read,
            which it must call once (see the module docstring).
        @param pingInterval: how often the connection is checked, in seconds.
        @param options: C{connectTimeout}, C{commandTimeout} (here: how long
            Redis may take to confirm a subscription or answer a C{PING}),
            C{backoff}, C{maxBulkLength} (the longest message accepted),
            C{maxArrayLength}, C{maxDepth}, C{endpoint}: see
            L{ReconnectingRedis.__init__}.
        @raise ValueError: the URL is invalid.
        """
        if pingInterval <= 0:
            raise ValueError("pingInterval must be positive")
        self.channels: set[bytes] = set()
        self.patterns: set[bytes] = set()
        self.pingInterval = pingInterval
        self._onMessage = onMessage
        self._onReconnect = onReconnect
        self._aroundRead = aroundRead
        self._pingTimer: Any = None
        # The channels and patterns the handshake in progress subscribes.
        self._sent: tuple[frozenset[bytes], frozenset[bytes]] = (frozenset(), frozenset())
        super().__init__(reactor, url, **options)

    # The connection.

    def makeProtocol(self) -> RedisProtocol:
        """A L{SubscriberProtocol} whose messages come here."""
        protocol = SubscriberProtocol(
            self._clock, self.commandTimeout, ReplyParser(**self._parserLimits), self._name
        )
        protocol.onMessage = self._message
        protocol.aroundRead = self._aroundRead
        return protocol

    def sendHandshake(self, protocol: RedisProtocol) -> list[Deferred[Any]]:
        """C{AUTH} when there is a password, then every subscription."""
        commands = super().sendHandshake(protocol)
        self._sent = (frozenset(self.channels), frozenset(self.patterns))
        for command, names in zip(("SUBSCRIBE", "PSUBSCRIBE"), self._sent, strict=True):
            if names:
                commands.append(
                    self.handshakeCommand(
                        protocol, (command, *sorted(names)), len(names), command.lower().encode()
                    )
                )
        return commands

    def connectionReady(self, protocol: RedisProtocol) -> None:
        """Start pinging, catch up, and call onReconnect (module docstring)."""
        self._schedulePing()
        # What was (un)subscribed during the handshake is not in it: catch
        # up, and call onReconnect once that is confirmed too.
        restored = any(self._sent)
        catchUp = []
        for names, sent, command in [
            (self.channels, self._sent[0], "SUBSCRIBE"),
            (self.patterns, self._sent[1], "PSUBSCRIBE"),
        ]:
            added, removed = sorted(names - sent), sorted(sent - names)
            if added:
                restored = True
                catchUp.append(self._send(protocol, command, names, added))
            if removed:
                catchUp.append(self._send(protocol, "UN" + command, names, removed))
        # Once every catch-up is answered, confirmed or refused; if the
        # connection is lost first, the next one catches up and tells.
        done = DeferredList(catchUp, consumeErrors=True)
        if restored:
            done.addCallback(lambda _: self._reconnected(protocol))

    def _reconnected(self, protocol: RedisProtocol) -> None:
        if self._onReconnect is None or self._protocol is not protocol:
            return
        try:
            self._onReconnect()
        except Exception:
            _log.failure("onReconnect raised; the subscriber carries on")

    def connectionGone(self) -> None:
        """No pings without a connection."""
        self._cancelPing()

    def close(self) -> Deferred[None]:
        """Stop pinging, then close as L{ReconnectingRedis.close} does."""
        self._cancelPing()
        return super().close()

    def _message(self, channel: bytes, data: bytes) -> None:
        try:
            self._onMessage(channel, data)
        except Exception:
            _log.failure(
                "onMessage raised for a message on {channel!r}; the next is delivered",
                channel=channel,
            )

    # Keeping the connection checked.

    def _schedulePing(self) -> None:
        self._cancelPing()
        self._pingTimer = self._clock.callLater(self.pingInterval, self._ping)

    def _cancelPing(self) -> None:
        if self._pingTimer is not None and self._pingTimer.active():
            self._pingTimer.cancel()
        self._pingTimer = None

    def _ping(self) -> None:
        self._pingTimer = None
        protocol = self._protocol
        if protocol is None or not protocol.usable:
            return
        # A PING unanswered in time drops the connection (a timeout); the
        # next is scheduled when this one is answered.
        pong = protocol.sendCommand(("PING",), kind=_PONG)
        pong.addCallbacks(self._ponged, lambda _: None, callbackArgs=(protocol,))

    def _ponged(self, reply: object, protocol: RedisProtocol) -> None:
        if self._protocol is protocol:
            self._schedulePing()

    # Subscriptions.

    def subscribe(self, *channels: Argument) -> Deferred[None]:
        """
        Subscribe to C{channels} (C{str} as UTF-8), and keep them subscribed
        across reconnections.

        @return: a Deferred that fires with C{None} once Redis confirmed
            them all, or fails with L{RedisUnavailable} (no connection now:
            they will be subscribed once it is back) or L{RedisError} (Redis
            refused, e.g. an ACL; they are forgotten).
        """
        return self._change("SUBSCRIBE", self.channels, channels, add=True)

    def unsubscribe(self, *channels: Argument) -> Deferred[None]:
        """
        Unsubscribe from C{channels}; messages Redis sent before it took the
        unsubscription may still arrive.

        @return: a Deferred that fires with C{None} once Redis confirmed it
            (at once without a connection).
        """
        return self._change("UNSUBSCRIBE", self.channels, channels, add=False)

    def psubscribe(self, *patterns: Argument) -> Deferred[None]:
        """
        Subscribe to the channels matching glob-style C{patterns}
        (C{chat:*}); like L{subscribe}.
        """
        return self._change("PSUBSCRIBE", self.patterns, patterns, add=True)

    def punsubscribe(self, *patterns: Argument) -> Deferred[None]:
        """Undo L{psubscribe} for C{patterns}; like L{unsubscribe}."""
        return self._change("PUNSUBSCRIBE", self.patterns, patterns, add=False)

    def _change(
        self, command: str, names: set[bytes], given: tuple[Argument, ...], add: bool
    ) -> Deferred[None]:
        if not given:
            raise TypeError(f"{command} needs at least one channel or pattern")
        encoded = _encode(given)
        if add:
            names.update(encoded)
        else:
            names.difference_update(encoded)
        protocol = self._protocol
        if protocol is None or not protocol.usable:
            return succeed(None) if not add else fail(self.refused())
        return self._send(protocol, command, names, encoded)

    def _send(
        self, protocol: RedisProtocol, command: str, names: set[bytes], given: list[bytes]
    ) -> Deferred[None]:
        """
        Send one (un)subscription of C{given}; a subscription that Redis
        refuses is taken out of C{names}.
        """
        confirmed = protocol.sendCommand((command, *given), len(given), command.lower().encode())

        def refused(failure: Any) -> Any:
            if not command.startswith("UN") and failure.check(RedisError):
                names.difference_update(given)
            return failure

        return confirmed.addCallbacks(lambda _: None, refused)
