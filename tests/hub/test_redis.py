"""
L{RedisHub} against a real C{redis-server}: two hubs in this process stand
for two processes (each its own node id, connections and subscriptions).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from ratchet_tx.connection import TransportConnection, heldWrites
from ratchet_tx.hub import HistoryLost, HistoryPolicy, IHub, Offset
from ratchet_tx.hub.redis import RedisHub, holdingWrites
from ratchet_tx.hub.wire import _LUA
from tests.hub import helpers
from tests.hub.helpers import sleep
from tests.redis.helpers import encodeReply
from tests.support.apps import FakeConnection
from tests.support.redisserver import RedisServer

#: Every wait of these tests is bounded by this, in seconds.
TIMEOUT = 10.0
#: A Redis that is never connected to (the held-writes tests feed the hub by hand).
URL = "redis://127.0.0.1:1/0"


def waitFor(condition: Any, timeout: float = TIMEOUT) -> Any:
    return helpers.waitFor(condition, timeout, 0.01)


class RedisHubTests(TestCase):
    timeout = 60

    def setUp(self) -> None:
        self.server = RedisServer.start()
        self.addCleanup(self.server.stop)

    @inlineCallbacks
    def hub(self, **kwargs: Any) -> Any:
        kwargs.setdefault("heartbeat", 0.5)
        hub = RedisHub(self.server.url(), reactor=reactor, **kwargs)
        self.addCleanup(hub.close)
        yield hub.client.whenConnected(TIMEOUT)
        yield hub.subscriber.whenConnected(TIMEOUT)
        return hub

    @inlineCallbacks
    def join(self, hub: RedisHub, channel: str = "c", **kwargs: Any) -> Any:
        conn = FakeConnection()
        yield hub.subscribe(conn, channel, **kwargs)
        return conn

    @inlineCallbacks
    def test_interface(self) -> None:
        hub = yield self.hub()
        self.assertTrue(verifyObject(IHub, hub))

    @inlineCallbacks
    def test_everySubscriberOnce(self) -> None:
        """
        Each subscriber of each process gets each message once, in publish
        order; one Redis subscription per channel per process.
        """
        a = yield self.hub()
        b = yield self.hub()
        conns = []
        for hub in (a, b):
            for _ in range(3):
                conns.append((yield self.join(hub)))
        count = self.server.command("PUBSUB", "NUMSUB", "ratchet:channel:c")[1]
        self.assertEqual(count, 2)
        sent = [f"m{n}" for n in range(200)]
        offsets = yield Deferred.fromCoroutine(_publishAll(a, "c", sent[:100]))
        offsets += yield Deferred.fromCoroutine(_publishAll(b, "c", sent[100:]))
        self.assertEqual([o.sequence for o in offsets], list(range(1, 201)))
        yield waitFor(lambda: all(len(c.sent) >= 200 for c in conns))
        yield sleep(0.05)
        for conn in conns:
            self.assertEqual(conn.sent, sent)

    @inlineCallbacks
    def test_excludeAcrossProcesses(self) -> None:
        a = yield self.hub()
        b = yield self.hub()
        sender = yield self.join(a)
        other = yield self.join(b)
        yield a.publish("c", b"bin", exclude=sender)
        yield waitFor(lambda: other.sent)
        yield a.publish("c", "done")
        yield waitFor(lambda: len(sender.sent) == 1)
        self.assertEqual((sender.sent, other.sent[:1]), (["done"], [b"bin"]))

    @inlineCallbacks
    def test_presence(self) -> None:
        """Members of every process, in join order; a dead process's vanish."""
        a = yield self.hub()
        b = yield self.hub()
        first = yield self.join(a, info={"name": "ada"})
        yield sleep(0.01)
        second = yield self.join(b, info={"name": "grace"})
        members = yield a.presence("c")
        self.assertEqual(
            [(m.id, m.info) for m in members],
            [(a.memberId(first), {"name": "ada"}), (b.memberId(second), {"name": "grace"})],
        )
        self.assertNotEqual(a.nodeId, b.nodeId)
        # b dies: no more heartbeats, no goodbye.
        b._beat.stop()
        yield sleep(2 * b.heartbeat + 0.2)
        members = yield a.presence("c")
        self.assertEqual([m.id for m in members], [a.memberId(first)])
        # Leaving on close.
        first.closed = True
        for callback in first.closeCallbacks:
            callback(first)
        yield waitFor(lambda: self.server.command("HLEN", "ratchet:presence:c") == 0)

    @inlineCallbacks
    def test_resume(self) -> None:
        """since= replays from history across processes, then goes live."""
        a = yield self.hub()
        b = yield self.hub()
        first = yield a.publish("c", "1")
        yield a.publish("c", "2")
        conn = yield self.join(b, since=str(first))
        yield a.publish("c", "3")
        yield waitFor(lambda: len(conn.sent) == 2)
        yield sleep(0.05)
        self.assertEqual(conn.sent, ["2", "3"])

    @inlineCallbacks
    def test_resumeTooOld(self) -> None:
        hub = yield self.hub(policy=HistoryPolicy(size=2))
        first = yield hub.publish("c", "1")
        for n in range(2, 5):
            yield hub.publish("c", str(n))
        conn = FakeConnection()
        error = yield self.assertFailure(hub.subscribe(conn, "c", since=first), HistoryLost)
        self.assertEqual(error.missing, 1)
        yield self.assertFailure(
            hub.subscribe(FakeConnection(), "c", since=Offset("other", 1)), HistoryLost
        )
        yield hub.publish("c", "live")
        yield waitFor(lambda: conn.sent)
        self.assertEqual(conn.sent, ["live"])

    @inlineCallbacks
    def test_redisPy(self) -> None:
        """A view with plain redis-py publishes, through the documented script."""
        import redis

        hub = yield self.hub()
        conn = yield self.join(hub, "news")
        client = redis.Redis(host=self.server.host, port=self.server.port)
        self.addCleanup(client.close)
        publish = client.register_script((_LUA / "publish.lua").read_text())
        channel = "news"
        epoch, sequence = publish(
            keys=[f"ratchet:history:{channel}", f"ratchet:meta:{channel}"],
            args=[
                f"ratchet:channel:{channel}",
                "t",
                "from Django \u2603",
                "-",
                "-",
                100,
                300000,
                86400000,
            ],
        )
        self.assertEqual(sequence, 1)
        yield waitFor(lambda: conn.sent)
        self.assertEqual(conn.sent, ["from Django \u2603"])

    @inlineCallbacks
    def test_subscriberDropRecovered(self) -> None:
        """
        The subscriber's connection killed under traffic: the hub resubscribes
        and recovers from history what pub/sub lost, no gap, no duplicate.
        """
        a = yield self.hub()
        b = yield self.hub()
        conn = yield self.join(b)
        sent = []
        for n in range(300):
            if n == 100:
                self.server.command("CLIENT", "KILL", "TYPE", "pubsub")
            sent.append(str(n))
            yield a.publish("c", str(n))
        yield waitFor(lambda: len(conn.sent) >= 300)
        yield sleep(0.1)
        self.assertEqual(conn.sent, sent)
        self.assertEqual(b.lost, 0)

    @inlineCallbacks
    def test_redisRestarted(self) -> None:
        """
        Redis stopped and restarted empty under traffic: connections stay,
        the hub reconnects and resubscribes; publishes during the outage
        fail, the history's loss is noticed and nothing is duplicated.
        """
        a = yield self.hub()
        b = yield self.hub()
        conn = yield self.join(b)
        yield a.publish("c", "before")
        yield waitFor(lambda: conn.sent)
        self.server.stop()
        failed = yield self.assertFailure(a.publish("c", "during"), Exception)
        self.assertIn("Redis", type(failed).__name__ + str(failed))
        self.server.restart()
        yield waitFor(lambda: b.subscriber.connected and a.client.connected)
        yield waitFor(lambda: b._channels["c"].live)
        yield sleep(0.2)
        yield a.publish("c", "after")
        yield waitFor(lambda: len(conn.sent) >= 2)
        self.assertEqual(conn.sent, ["before", "after"])
        self.assertFalse(conn.closed)

    @inlineCallbacks
    def test_outageUnderTraffic(self) -> None:
        """
        Redis stopped and restarted while a publisher keeps publishing: the
        receivers stay connected and get, once and in order, everything
        that was published; the publishes during the outage fail; one log
        line per outage per connection.
        """
        from tests.support.apps import LogCapture

        logs = LogCapture(self)
        a = yield self.hub(policy=HistoryPolicy(size=1000))
        b = yield self.hub(policy=HistoryPolicy(size=1000))
        conns = []
        for _ in range(20):
            conns.append((yield self.join(b)))
        published: list[str] = []
        failed: list[str] = []
        stopAt, restartAt = 50, 100
        for n in range(400):
            if n == stopAt:
                self.server.stop()
            if n == restartAt:
                self.server.restart()
                yield waitFor(lambda: a.client.connected and b.subscriber.connected)
            try:
                yield a.publish("c", str(n))
                published.append(str(n))
            except Exception:
                failed.append(str(n))
            yield sleep(0.002)
        yield waitFor(lambda: all(c.sent[-1:] == published[-1:] for c in conns))
        for conn in conns:
            self.assertFalse(conn.closed)
            # Once each, in order; everything published after the restart
            # arrives (late, from history, if pub/sub was not back yet).
            numbers = [int(m) for m in conn.sent]
            self.assertEqual(numbers, sorted(set(numbers)))
            self.assertEqual(conn.sent[-300:], published[-300:])
        self.assertEqual(b.lost, 0)
        self.assertEqual(failed, [str(n) for n in range(stopAt, restartAt)])
        outages = [
            e
            for e in logs.events
            if "unavailable at" in str(e.get("log_format", ""))
            and e.get("role") == "client"
            and str(self.server.port) in str(e.get("address", ""))
        ]
        # One line per outage per connection, whatever the number of attempts.
        self.assertEqual(len(outages), 2)


async def _publishAll(hub: RedisHub, channel: str, messages: list[str]) -> list[Offset]:
    # Pipelined: all sent at once, one publisher, answered in order.
    from twisted.internet.defer import gatherResults

    return await gatherResults([hub.publish(channel, m) for m in messages])


class HeldWritesTests(SynchronousTestCase):
    """
    The messages of one read of the hub's subscription reach each receiver
    in one write (no Redis needed: the subscription is fed by hand).
    """

    def test_holdingWrites(self) -> None:
        """Two messages sent inside L{holdingWrites} are one transport write."""
        transport = StringTransport()
        writes: list[bytes] = []
        transport.write = writes.append  # type: ignore[method-assign]
        conn = TransportConnection(transport)
        holdingWrites(lambda: (conn.send(b"one"), conn.send(b"two")))
        self.assertEqual(writes, [b"onetwo"])
        conn.send(b"three")  # outside: at once
        self.assertEqual(writes, [b"onetwo", b"three"])

    def test_oneReadIsHeld(self) -> None:
        """The hub delivers every message of one read while writes are held."""
        hub = RedisHub(URL, reactor=MemoryReactorClock())
        self.addCleanup(hub.close)
        depths: list[tuple[str | bytes, int]] = []

        class Receiver(FakeConnection):
            def send(self, message: str | bytes) -> None:
                depths.append((message, heldWrites.depth))

        hub.subscribe(Receiver(), "c").addErrback(lambda _: None)
        protocol = hub.subscriber.makeProtocol()
        name = b"ratchet:channel:c"
        read = b"".join(
            encodeReply([b"message", name, b"r1 e1 %d t - -\n%s" % (n, text)])
            for n, text in ((1, b"one"), (2, b"two"))
        )
        protocol.dataReceived(read)
        self.assertEqual(depths, [("one", 1), ("two", 1)])
        self.assertEqual(heldWrites.depth, 0)
