"""
L{RedisSubscriber} on a L{MemoryReactorClock} with a fake server: messages in
order, (un)subscriptions confirmed, subscriptions restored after a reconnect
and then C{onReconnect}, the PING that checks the connection, and a server
that breaks the pub/sub protocol.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.redis import (
    Backoff,
    RedisError,
    RedisSubscriber,
    RedisUnavailable,
    State,
)
from tests.redis.helpers import FakeServer, Peer
from tests.support.apps import LogCapture
from tests.websocket.helpers import loggedLines

URL = "redis://127.0.0.1:6379/5"


def message(channel: bytes, data: bytes) -> list[bytes]:
    return [b"message", channel, data]


def confirm(kind: bytes, *names: bytes, count: int = 1) -> list[list[Any]]:
    """One confirmation per name, as Redis sends them."""
    return [[kind, name, count + i] for i, name in enumerate(names)]


class SubscriberTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.server = FakeServer(self.reactor)
        self.log = LogCapture(self)
        self.messages: list[tuple[bytes, bytes]] = []
        self.reconnects: list[float] = []

    def subscriber(self, url: str = URL, **options: Any) -> RedisSubscriber:
        options.setdefault("backoff", Backoff(random=lambda: 0.0))
        return RedisSubscriber(
            self.reactor,
            url,
            lambda channel, data: self.messages.append((channel, data)),
            onReconnect=lambda: self.reconnects.append(self.reactor.seconds()),
            **options,
        )

    def connected(self, **options: Any) -> tuple[RedisSubscriber, Peer]:
        subscriber = self.subscriber(**options)
        return subscriber, self.server.connected([[b"PING"]])


class OptionTests(SynchronousTestCase):
    def test_badOptions(self) -> None:
        self.assertRaises(
            ValueError, RedisSubscriber, MemoryReactorClock(), URL, print, pingInterval=0
        )


class SubscribeTests(SubscriberTestCase):
    def test_firstConnect(self) -> None:
        """No SELECT (channels are not per database), no onReconnect."""
        subscriber, peer = self.connected()
        self.assertTrue(subscriber.connected)
        self.assertEqual(self.reconnects, [])

    def test_subscribe(self) -> None:
        subscriber, peer = self.connected()
        d = subscriber.subscribe("a", b"b")
        self.assertEqual(peer.commands(), [[b"SUBSCRIBE", b"a", b"b"]])
        self.assertEqual(subscriber.channels, {b"a", b"b"})
        peer.reply(*confirm(b"subscribe", b"a"))
        self.assertNoResult(d)
        peer.reply(*confirm(b"subscribe", b"b", count=2))
        self.assertIsNone(self.successResultOf(d))

    def test_messagesInOrder(self) -> None:
        """
        Messages go to onMessage in the order they come, also between the
        confirmations of one SUBSCRIBE.
        """
        subscriber, peer = self.connected()
        d = subscriber.subscribe("a", "b")
        peer.reply(
            [b"subscribe", b"a", 1],
            message(b"a", b"1"),
            [b"subscribe", b"b", 2],
            message(b"b", b"2"),
            message(b"a", b"3"),
        )
        self.successResultOf(d)
        peer.reply(*[message(b"a", b"%d" % i) for i in range(4, 100)])
        self.assertEqual(
            self.messages,
            [(b"a", b"1"), (b"b", b"2"), (b"a", b"3")] + [(b"a", b"%d" % i) for i in range(4, 100)],
        )

    def test_aroundRead(self) -> None:
        """
        With C{aroundRead}, each read's messages are delivered inside one
        call of it, and the next read's inside the next.
        """
        calls: list[list[tuple[bytes, bytes]]] = []

        def aroundRead(handleRead: Any) -> None:
            before = len(self.messages)
            handleRead()
            calls.append(self.messages[before:])

        subscriber, peer = self.connected(aroundRead=aroundRead)
        calls.clear()  # the handshake's reads
        d = subscriber.subscribe("a")
        peer.reply([b"subscribe", b"a", 1], message(b"a", b"1"), message(b"a", b"2"))
        self.successResultOf(d)
        peer.reply(message(b"a", b"3"))
        self.assertEqual(calls, [[(b"a", b"1"), (b"a", b"2")], [(b"a", b"3")]])

    def test_patterns(self) -> None:
        subscriber, peer = self.connected()
        d = subscriber.psubscribe("chat:*")
        self.assertEqual(peer.commands(), [[b"PSUBSCRIBE", b"chat:*"]])
        peer.reply([b"psubscribe", b"chat:*", 1], [b"pmessage", b"chat:*", b"chat:1", b"hi"])
        self.successResultOf(d)
        self.assertEqual(self.messages, [(b"chat:1", b"hi")])
        self.assertEqual(subscriber.patterns, {b"chat:*"})
        undo = subscriber.punsubscribe("chat:*")
        self.assertEqual(peer.commands(), [[b"PUNSUBSCRIBE", b"chat:*"]])
        peer.reply([b"punsubscribe", b"chat:*", 0])
        self.successResultOf(undo)
        self.assertEqual(subscriber.patterns, set())

    def test_unsubscribe(self) -> None:
        subscriber, peer = self.connected()
        subscriber.subscribe("a", "b")
        peer.reply(*confirm(b"subscribe", b"a", b"b"))
        peer.commands()
        d = subscriber.unsubscribe("a")
        self.assertEqual(subscriber.channels, {b"b"})
        self.assertEqual(peer.commands(), [[b"UNSUBSCRIBE", b"a"]])
        peer.reply(message(b"a", b"sent before"), [b"unsubscribe", b"a", 1])
        self.successResultOf(d)
        self.assertEqual(self.messages, [(b"a", b"sent before")])

    def test_needsNames(self) -> None:
        subscriber, peer = self.connected()
        self.assertRaises(TypeError, subscriber.subscribe)
        self.assertRaises(TypeError, subscriber.unsubscribe)

    def test_refusedByRedis(self) -> None:
        """An error reply (an ACL) fails the subscription, which is forgotten."""
        subscriber, peer = self.connected()
        d = subscriber.subscribe("secret")
        peer.reply(RedisError("NOPERM this user has no permissions to access one of the channels"))
        self.assertEqual(self.failureResultOf(d, RedisError).value.code, "NOPERM")
        self.assertEqual(subscriber.channels, set())
        self.assertTrue(subscriber.connected)

    def test_onMessageRaises(self) -> None:
        def onMessage(channel: bytes, data: bytes) -> None:
            if data == b"bad":
                raise ZeroDivisionError()
            self.messages.append((channel, data))

        subscriber = RedisSubscriber(self.reactor, URL, onMessage)
        peer = self.server.connected()
        subscriber.subscribe("a")
        peer.reply([b"subscribe", b"a", 1], message(b"a", b"bad"), message(b"a", b"good"))
        self.assertEqual(self.messages, [(b"a", b"good")])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertTrue(subscriber.connected)


class DisconnectedTests(SubscriberTestCase):
    def test_subscribeRemembered(self) -> None:
        """
        Subscribing without a connection fails at once, and the channel is
        subscribed as soon as there is one; onReconnect tells when.
        """
        subscriber = self.subscriber()
        d = subscriber.subscribe("a")
        self.failureResultOf(d, RedisUnavailable)
        self.assertEqual(subscriber.channels, {b"a"})
        peer = self.server.accept()
        self.assertEqual(peer.commands(), [[b"SUBSCRIBE", b"a"]])
        peer.reply([b"subscribe", b"a", 1])
        self.assertTrue(subscriber.connected)
        self.assertEqual(len(self.reconnects), 1)

    def test_unsubscribeWithoutConnection(self) -> None:
        subscriber = self.subscriber()
        self.failureResultOf(subscriber.subscribe("a", "b"), RedisUnavailable)
        self.successResultOf(subscriber.unsubscribe("a"))
        peer = self.server.accept()
        self.assertEqual(peer.commands(), [[b"SUBSCRIBE", b"b"]])


class ReconnectTests(SubscriberTestCase):
    def test_resubscribesThenOnReconnect(self) -> None:
        """
        After a reconnect: AUTH, every channel and pattern again, and once
        Redis confirmed them all -- before any later message -- onReconnect.
        """
        subscriber = self.subscriber("redis://:pw@127.0.0.1:6379/5")
        peer = self.server.connected([[b"AUTH", b"pw"]])
        subscriber.subscribe("b", "a")
        subscriber.psubscribe("p*")
        peer.reply(*confirm(b"subscribe", b"b", b"a"), [b"psubscribe", b"p*", 3])
        peer.lose()
        self.assertEqual(subscriber.state, State.CONNECTING)
        self.server.refuse()
        self.reactor.advance(0.1)
        order: list[str] = []
        self.messages = order  # type: ignore[assignment]
        subscriber._onReconnect = lambda: order.append("reconnect")  # type: ignore[assignment]
        peer = self.server.accept()
        self.assertEqual(
            peer.commands(),
            [[b"AUTH", b"pw"], [b"SUBSCRIBE", b"a", b"b"], [b"PSUBSCRIBE", b"p*"]],
        )
        peer.reply("OK", *confirm(b"subscribe", b"a", b"b"))
        self.assertEqual(order, [])
        peer.reply([b"psubscribe", b"p*", 3], message(b"a", b"new"))
        self.assertEqual(order, ["reconnect", (b"a", b"new")])
        self.assertEqual(len(loggedLines(self.log, "Redis subscriber unavailable at")), 1)
        self.assertEqual(len(loggedLines(self.log, "Redis subscriber connected to")), 1)

    def test_changedDuringTheHandshake(self) -> None:
        """
        What is subscribed or unsubscribed while the handshake is on its way
        is caught up once it is done; onReconnect comes after that too.
        """
        subscriber, peer = self.connected()
        subscriber.subscribe("a", "b")
        peer.reply(*confirm(b"subscribe", b"a", b"b"))
        peer.lose()
        peer = self.server.accept()
        self.assertEqual(peer.commands(), [[b"SUBSCRIBE", b"a", b"b"]])
        self.failureResultOf(subscriber.subscribe("c"), RedisUnavailable)
        self.successResultOf(subscriber.unsubscribe("a"))
        peer.reply(*confirm(b"subscribe", b"a", b"b"))
        self.assertTrue(subscriber.connected)
        self.assertEqual(peer.commands(), [[b"SUBSCRIBE", b"c"], [b"UNSUBSCRIBE", b"a"]])
        self.assertEqual(self.reconnects, [])
        peer.reply([b"subscribe", b"c", 3])
        self.assertEqual(self.reconnects, [])
        peer.reply([b"unsubscribe", b"a", 2])
        self.assertEqual(len(self.reconnects), 1)
        self.assertEqual(subscriber.channels, {b"b", b"c"})

    def test_subscribedDuringTheFirstHandshake(self) -> None:
        subscriber = self.subscriber()
        peer = self.server.accept()
        self.failureResultOf(subscriber.subscribe("a"), RedisUnavailable)
        peer.reply("PONG")
        self.assertEqual(peer.commands(), [[b"PING"], [b"SUBSCRIBE", b"a"]])
        peer.reply([b"subscribe", b"a", 1])
        self.assertEqual(len(self.reconnects), 1)

    def test_unsubscribedOnlyDuringTheHandshake(self) -> None:
        """Nothing restored, nothing missed: no onReconnect."""
        subscriber = self.subscriber()
        peer = self.server.accept()
        self.failureResultOf(subscriber.subscribe("a"), RedisUnavailable)
        self.successResultOf(subscriber.unsubscribe("a"))
        peer.reply("PONG")
        self.assertTrue(subscriber.connected)
        self.assertEqual(peer.commands(), [[b"PING"]])
        self.assertEqual(self.reconnects, [])

    def test_subscribeInFlightWhenLost(self) -> None:
        subscriber, peer = self.connected()
        d = subscriber.subscribe("a")
        peer.lose()
        self.failureResultOf(d, RedisUnavailable)
        self.assertEqual(subscriber.channels, {b"a"})

    def test_resubscribeRefused(self) -> None:
        """A handshake that cannot restore the subscriptions is a failed attempt."""
        subscriber, peer = self.connected()
        subscriber.subscribe("a")
        peer.reply([b"subscribe", b"a", 1])
        peer.lose()
        peer = self.server.accept()
        peer.reply(RedisError("NOPERM no permissions"))
        self.assertEqual(subscriber.state, State.WAITING)
        self.assertEqual(self.reconnects, [])
        error = self.failureResultOf(subscriber.subscribe("b"), RedisUnavailable).value
        self.assertIn("SUBSCRIBE failed: NOPERM no permissions", str(error))

    def test_onReconnectRaises(self) -> None:
        def broken() -> None:
            raise ZeroDivisionError()

        subscriber = RedisSubscriber(self.reactor, URL, print, onReconnect=broken)
        self.failureResultOf(subscriber.subscribe("a"), RedisUnavailable)
        self.server.accept().reply([b"subscribe", b"a", 1])
        self.assertTrue(subscriber.connected)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)


class BrokenServerTests(SubscriberTestCase):
    def assertDropped(self, subscriber: RedisSubscriber, peer: Peer, problem: str) -> None:
        self.assertTrue(peer.aborted)
        self.assertEqual(self.server.attempts, 2)
        [line] = loggedLines(self.log, "unavailable at")
        self.assertIn(problem, line)

    def test_wrongConfirmation(self) -> None:
        subscriber, peer = self.connected()
        d = subscriber.subscribe("a")
        peer.reply([b"unsubscribe", b"a", 0])
        self.failureResultOf(d, RedisUnavailable)
        self.assertDropped(subscriber, peer, "expected a b'subscribe' reply")

    def test_confirmationOfNothing(self) -> None:
        subscriber, peer = self.connected()
        peer.reply([b"subscribe", b"a", 1])
        self.assertDropped(subscriber, peer, "a reply to no command")

    def test_malformedMessage(self) -> None:
        subscriber, peer = self.connected()
        peer.reply([b"message", b"a"])
        self.assertDropped(subscriber, peer, "a malformed message")

    def test_messageNotBytes(self) -> None:
        subscriber, peer = self.connected()
        peer.reply([b"message", b"a", 5])
        self.assertDropped(subscriber, peer, "a malformed message")
        self.assertEqual(self.messages, [])


class PingTests(SubscriberTestCase):
    def test_pingsWhileConnected(self) -> None:
        subscriber, peer = self.connected(pingInterval=10.0)
        subscriber.subscribe("a")
        peer.reply([b"subscribe", b"a", 1])
        peer.commands()
        self.reactor.advance(9.9)
        self.assertEqual(peer.commands(), [])
        self.reactor.advance(0.1)
        self.assertEqual(peer.commands(), [[b"PING"]])
        peer.reply([b"pong", b""])
        self.reactor.advance(10.0)
        self.assertEqual(peer.commands(), [[b"PING"]])
        self.assertFalse(peer.aborted)

    def test_plainPongWhenSubscribedToNothing(self) -> None:
        subscriber, peer = self.connected(pingInterval=10.0)
        self.reactor.advance(10.0)
        self.assertEqual(peer.commands(), [[b"PING"]])
        peer.reply("PONG")
        self.reactor.advance(10.0)
        self.assertEqual(peer.commands(), [[b"PING"]])

    def test_noPongReplacesTheConnection(self) -> None:
        """A server gone silent is noticed within pingInterval + commandTimeout."""
        subscriber, peer = self.connected(pingInterval=10.0, commandTimeout=3.0)
        subscriber.subscribe("a")
        peer.reply([b"subscribe", b"a", 1])
        self.reactor.advance(10.0)
        self.assertEqual(peer.commands(), [[b"SUBSCRIBE", b"a"], [b"PING"]])
        self.reactor.advance(2.9)
        self.assertFalse(peer.aborted)
        self.reactor.advance(0.1)
        self.assertTrue(peer.aborted)
        self.assertEqual(self.server.attempts, 2)
        self.assertTrue(loggedLines(self.log, "(no reply within 3 s)"))

    def test_closeStopsPinging(self) -> None:
        subscriber, peer = self.connected(pingInterval=10.0)
        closed = subscriber.close()
        peer.lose()
        self.successResultOf(closed)
        self.assertEqual([c for c in self.reactor.getDelayedCalls() if c.active()], [])
