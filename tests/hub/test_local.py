"""
L{LocalHub}: channels in one process, through its own API and through the
commands of applications served by a real L{Server} over in-memory
transports.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from ratchet_tx.hub import Delivery, HistoryLost, HistoryPolicy, IHub, LocalHub, Member, Offset
from ratchet_tx.websocket import framing
from tests.hub.helpers import MemoryClient, RoomApp, installHub, webSocketServer
from tests.support.apps import FakeConnection


def result(d: Any) -> Any:
    """What an already fired Deferred fired with (its failure raised)."""
    box: list[Any] = []
    d.addBoth(box.append)
    [value] = box
    if hasattr(value, "raiseException"):
        value.raiseException()
    return value


def close(conn: FakeConnection) -> None:
    """Close a fake connection as a server does: closed, then its callbacks."""
    conn.closed = True
    for callback in conn.closeCallbacks:
        callback(conn)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class LocalHubTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.hub = LocalHub(HistoryPolicy(size=3, age=60), now=self.clock)

    def join(self, channel: str = "c", **kwargs: Any) -> FakeConnection:
        conn = FakeConnection()
        self.assertIsNone(result(self.hub.subscribe(conn, channel, **kwargs)))
        return conn

    def test_interface(self) -> None:
        self.assertTrue(verifyObject(IHub, self.hub))

    def test_publishReachesSubscribers(self) -> None:
        """Each subscriber gets each message once, in order; others none."""
        a, b = self.join(), self.join()
        other = self.join("elsewhere")
        offsets = [result(self.hub.publish("c", m)) for m in ("one", b"two")]
        self.assertEqual(a.sent, ["one", b"two"])
        self.assertEqual(b.sent, ["one", b"two"])
        self.assertEqual(other.sent, [])
        self.assertEqual(offsets, [Offset(self.hub.epoch, 1), Offset(self.hub.epoch, 2)])

    def test_exclude(self) -> None:
        """C{exclude} takes a connection, a member id, or a collection of them."""
        a, b, c = self.join(), self.join(), self.join()
        result(self.hub.publish("c", "1", exclude=a))
        result(self.hub.publish("c", "2", exclude=self.hub.memberId(b)))
        result(self.hub.publish("c", "3", exclude=[a, self.hub.memberId(c)]))
        self.assertEqual((a.sent, b.sent, c.sent), (["2"], ["1", "3"], ["1", "2"]))

    def test_unsubscribe(self) -> None:
        a, b = self.join(), self.join()
        result(self.hub.unsubscribe(a, "c"))
        result(self.hub.unsubscribe(a, "c"))
        result(self.hub.publish("c", "x"))
        self.assertEqual((a.sent, b.sent), ([], ["x"]))

    def test_closeLeavesEveryChannel(self) -> None:
        """A connection that closes is taken out of all its channels, once watched."""
        conn = self.join("a")
        result(self.hub.subscribe(conn, "b"))
        self.assertEqual(len(conn.closeCallbacks), 1)
        close(conn)
        self.assertEqual(self.hub.rooms, {})
        self.assertEqual(result(self.hub.presence("a")), [])

    def test_presence(self) -> None:
        """Members in the order they joined, with their info; a resubscription updates it."""
        a = self.join(info={"name": "ada"})
        b = self.join(info=None)
        result(self.hub.subscribe(a, "c", info={"name": "grace"}))
        self.assertEqual(
            result(self.hub.presence("c")),
            [Member(self.hub.memberId(a), {"name": "grace"}), Member(self.hub.memberId(b))],
        )
        self.assertEqual(self.hub.memberId(a), f"{self.hub.nodeId}.{a.id}")

    def test_render(self) -> None:
        """A render function is called once per message for all who share it."""
        calls: list[Delivery] = []

        def render(delivery: Delivery) -> str:
            calls.append(delivery)
            return f"{delivery.offset} {delivery.message}"

        a, b = self.join(render=render), self.join(render=render)
        plain = self.join()
        offset = result(self.hub.publish("c", "hi"))
        self.assertEqual(len(calls), 1)
        self.assertEqual(a.sent, [f"{offset} hi"])
        self.assertEqual(b.sent, a.sent)
        self.assertEqual(plain.sent, ["hi"])

    def test_resume(self) -> None:
        """C{since} replays what came after it, then goes live."""
        first = result(self.hub.publish("c", "1"))
        result(self.hub.publish("c", "2"))
        conn = self.join(since=str(first))
        result(self.hub.publish("c", "3"))
        self.assertEqual(conn.sent, ["2", "3"])

    def test_replayWhileLive(self) -> None:
        """
        A subscriber being replayed to waits for what is published
        meanwhile, the others get it at once; once it is live the room
        sends to all again, the exclusions by member id included.
        """
        pending: Deferred[Any] = Deferred()
        self.patch(self.hub, "history", lambda channel, since: pending)
        first = result(self.hub.publish("c", "1"))
        live = self.join()
        resuming = FakeConnection()
        self.hub.subscribe(resuming, "c", since=first)
        result(self.hub.publish("c", "2", exclude=live))
        result(self.hub.publish("c", "3"))
        self.assertEqual((live.sent, resuming.sent), (["3"], []))
        missed = Delivery("c", "2", Offset(self.hub.epoch, 2), frozenset())
        pending.callback((Offset(self.hub.epoch, 2), [missed]))
        self.assertEqual(resuming.sent, ["2", "3"])
        for n, exclude in ((4, resuming), (5, live), (6, None)):
            result(self.hub.publish("c", str(n), exclude=exclude))
        self.assertEqual(live.sent, ["3", "4", "6"])
        self.assertEqual(resuming.sent, ["2", "3", "5", "6"])

    def test_excludedElsewhere(self) -> None:
        """Excluding members of other processes (unknown here) leaves everyone here."""
        a, b = self.join(), self.join()
        result(self.hub.publish("c", "x", exclude=["other.1", "other.2"]))
        self.assertEqual((a.sent, b.sent), (["x"], ["x"]))

    def test_resumeUpToDate(self) -> None:
        offset = result(self.hub.publish("c", "1"))
        conn = self.join(since=offset)
        self.assertEqual(conn.sent, [])

    def test_resumeSkipsExcluded(self) -> None:
        """A replayed message is not sent to a member it excluded."""
        start = result(self.hub.publish("c", "0"))
        conn = FakeConnection()
        result(self.hub.publish("c", "mine", exclude=self.hub.memberId(conn)))
        result(self.hub.subscribe(conn, "c", since=start))
        self.assertEqual(conn.sent, [])

    def test_tooOld(self) -> None:
        """Older than the size kept: HistoryLost, and live all the same."""
        first = result(self.hub.publish("c", "1"))
        for n in range(2, 6):
            result(self.hub.publish("c", str(n)))
        conn = FakeConnection()
        failure = self.failureResultOf(self.hub.subscribe(conn, "c", since=first), HistoryLost)
        self.assertEqual(failure.value.missing, 1)
        self.assertEqual(failure.value.current, Offset(self.hub.epoch, 5))
        result(self.hub.publish("c", "6"))
        self.assertEqual(conn.sent, ["6"])

    def test_tooOldByAge(self) -> None:
        """A message older than the age limit is not replayed."""
        first = result(self.hub.publish("c", "1"))
        self.clock.now += 30
        result(self.hub.publish("c", "2"))
        self.clock.now += 31
        kept = FakeConnection()
        self.assertIsNone(result(self.hub.subscribe(kept, "c", since=first)))
        self.assertEqual(kept.sent, ["2"])
        self.clock.now += 30
        conn = FakeConnection()
        failure = self.failureResultOf(self.hub.subscribe(conn, "c", since=first), HistoryLost)
        self.assertIn("older than the history kept", str(failure.value))

    def test_otherEpoch(self) -> None:
        """An offset of another hub (a restarted process) is lost history."""
        conn = FakeConnection()
        d = self.hub.subscribe(conn, "c", since=Offset("elsewhere", 1))
        self.assertIn("another epoch", str(self.failureResultOf(d, HistoryLost).value))

    def test_ahead(self) -> None:
        d = self.hub.subscribe(FakeConnection(), "c", since=Offset(self.hub.epoch, 9))
        self.failureResultOf(d, HistoryLost)

    def test_noHistory(self) -> None:
        """Size 0 keeps nothing: any missed message is lost, offsets still count."""
        hub = LocalHub(HistoryPolicy(size=0))
        first = result(hub.publish("c", "1"))
        result(hub.publish("c", "2"))
        self.failureResultOf(hub.subscribe(FakeConnection(), "c", since=first), HistoryLost)
        conn = FakeConnection()
        self.assertIsNone(result(hub.subscribe(conn, "c", since=Offset(hub.epoch, 2))))

    def test_failingReceiver(self) -> None:
        """A receiver whose send fails does not stop the others."""
        self.join()
        broken = FakeConnection(sendError=RuntimeError("gone"))
        result(self.hub.subscribe(broken, "c"))
        later = self.join()
        result(self.hub.publish("c", "x"))
        self.assertEqual(later.sent, ["x"])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_notAMessage(self) -> None:
        self.failureResultOf(self.hub.publish("c", 42), TypeError)  # type: ignore[arg-type]

    def test_closedConnection(self) -> None:
        """A connection that is closed already is not subscribed."""
        conn = FakeConnection()
        conn.closed = True
        result(self.hub.subscribe(conn, "c"))
        self.assertEqual(self.hub.rooms, {})

    def test_close(self) -> None:
        conn = self.join()
        result(self.hub.close())
        self.assertEqual(self.hub.rooms, {})
        result(self.hub.publish("c", "x"))
        self.assertEqual(conn.sent, [])


class ServedTests(SynchronousTestCase):
    """The commands, from an application that a real Server serves."""

    def setUp(self) -> None:
        self.hub = installHub(self, LocalHub())
        self.app = RoomApp()
        self.server = webSocketServer(self.app)

    def test_room(self) -> None:
        """A message goes to everyone else, of every version."""
        clients = [MemoryClient(self.server), MemoryClient(self.server, hixie=True)]
        clients.append(MemoryClient(self.server))
        clients[0].send("hello")
        self.assertEqual([c.received() for c in clients], [[], ["hello"], ["hello"]])

    def test_framedOncePerVersion(self) -> None:
        """Twenty receivers of one version cost one frame."""
        encoded: list[Any] = []
        original = framing.hybi.frameText

        def counting(message: str) -> Any:
            encoded.append(message)
            return original(message)

        self.patch(framing.hybi, "frameText", counting)
        clients = [MemoryClient(self.server) for _ in range(20)]
        encoded.clear()
        clients[0].send("x" * 200)
        self.assertEqual(len(encoded), 1)
        self.assertEqual([c.received() for c in clients[1:]], [["x" * 200]] * 19)

    def test_closeLeaves(self) -> None:
        first, second = MemoryClient(self.server), MemoryClient(self.server)
        members = [m.id for m in result(self.hub.presence("room"))]
        self.assertEqual(members, [self.hub.memberId(c.conn) for c in (first, second)])
        first.close()
        self.assertEqual(len(result(self.hub.presence("room"))), 1)

    def test_historyLostToOnError(self) -> None:
        """The application is told (onError) when a resume cannot be honoured."""
        client = MemoryClient(self.server, path="/ws?since=gone:3")
        self.assertEqual(client.received(), ["lost"])
        [failure] = self.app.errors
        self.assertTrue(failure.check(HistoryLost))
        self.assertEqual(len(self.flushLoggedErrors(HistoryLost)), 1)
        MemoryClient(self.server).send("live")
        self.assertEqual(client.received(), ["live"])

    def test_resumeThroughServer(self) -> None:
        sender = MemoryClient(self.server)
        sender.send("1")
        offset = result(self.hub.publish("room", "2"))
        sender.send("3")
        client = MemoryClient(self.server, path=f"/ws?since={Offset(offset.epoch, 1)}")
        self.assertEqual(client.received(), ["2", "3"])
