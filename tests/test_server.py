"""
Tests for L{ratchet_tx.server}: the transport adapter between Twisted
connections and an application, over in-memory transports.
"""

from __future__ import annotations

import weakref

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.logger import formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from ratchet_tx.commands import CloseConnection, SendMessage
from ratchet_tx.connection import ConnectionDecorator, TransportConnection
from ratchet_tx.examples.chat import Chat
from ratchet_tx.examples.echo import Echo
from ratchet_tx.interfaces import IApplication, IConnection
from ratchet_tx.server import MAX_SHARED_ADDRESSES, Server, ServerProtocol
from ratchet_tx.websocket.codecs.closecodes import CloseCode
from tests.support.apps import (
    LogCapture,
    RecordingApplication,
    StubbornTransport,
    connectTo,
    raising,
)


def peerCloses(proto: ServerProtocol) -> None:
    """The peer closed its end cleanly."""
    proto.connectionLost(Failure(ConnectionDone()))


def peerResets(proto: ServerProtocol) -> None:
    """The connection was lost uncleanly (reset, timeout)."""
    proto.connectionLost(Failure(ConnectionLost()))


class LifecycleTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.app = RecordingApplication()
        self.server = Server(self.app)

    def test_openMessagesClose(self) -> None:
        proto, _ = connectTo(self.server)
        proto.dataReceived(b"first")
        proto.dataReceived(b"second")
        peerCloses(proto)
        self.assertEqual(self.app.callbacks(), ["onOpen", "onMessage", "onMessage", "onClose"])

    def test_messagesAreTheBytesRead(self) -> None:
        """Raw TCP has no framing: each read is one message, as bytes."""
        proto, _ = connectTo(self.server)
        proto.dataReceived(b"\x00\xff")
        proto.dataReceived("é".encode())
        self.assertEqual(
            [event[2] for event in self.app.events if event[0] == "onMessage"],
            [b"\x00\xff", b"\xc3\xa9"],
        )

    def test_everyCallbackGetsTheSameConnection(self) -> None:
        proto, _ = connectTo(self.server)
        proto.dataReceived(b"x")
        peerCloses(proto)
        conns = {event[1] for event in self.app.events}
        self.assertEqual(conns, {proto.connection})

    def test_connectionIsATransportConnectionOfTheTransport(self) -> None:
        proto, transport = connectTo(self.server)
        conn = self.app.events[0][1]
        self.assertIsInstance(conn, TransportConnection)
        self.assertIs(conn.transport, transport)

    def test_connectionIsClosedByTheTimeOnCloseRuns(self) -> None:
        seen = []
        app = RecordingApplication(onClose=lambda conn: seen.append(conn.closed))
        proto, _ = connectTo(Server(app))
        peerCloses(proto)
        self.assertEqual(seen, [True])

    def test_connectionsListsTheOpenOnes(self) -> None:
        a, _ = connectTo(self.server)
        b, _ = connectTo(self.server)
        self.assertEqual(set(self.server.connections), {a.connection, b.connection})
        peerCloses(a)
        self.assertEqual(self.server.connections, [b.connection])

    def test_protocolsIsASetLikeViewOfTheOpenOnes(self) -> None:
        a, _ = connectTo(self.server)
        b, _ = connectTo(self.server)
        self.assertEqual(self.server.protocols, {a, b})
        peerCloses(a)
        self.assertEqual(self.server.protocols, {b})
        self.assertIn(b, self.server.protocols)

    def test_protocolHasNoAttributeDictionary(self) -> None:
        """An idle connection's protocol is slotted (and weakly referable)."""
        proto, _ = connectTo(self.server)
        self.assertFalse(hasattr(proto, "__dict__"))
        self.assertIs(weakref.ref(proto)(), proto)
        self.assertEqual(proto.logPrefix(), "ServerProtocol")

    def test_connectionsShareTheLocalAddressOfTheServer(self) -> None:
        """
        Connections to one of the server's addresses share one address
        object; the peer's is asked of the transport.
        """
        conns = []
        for peerPort in (1001, 1002):
            transport = StringTransportWithDisconnection(
                hostAddress=IPv4Address("TCP", "127.0.0.1", 80),
                peerAddress=IPv4Address("TCP", "127.0.0.2", peerPort),
            )
            conns.append(connectTo(self.server, transport)[0].connection)
        self.assertIs(conns[0].localAddress, conns[1].localAddress)
        self.assertEqual(conns[0].localAddress, IPv4Address("TCP", "127.0.0.1", 80))
        self.assertEqual(
            [c.remoteAddress for c in conns],
            [IPv4Address("TCP", "127.0.0.2", 1001), IPv4Address("TCP", "127.0.0.2", 1002)],
        )

    def test_sharedAddressesAreBounded(self) -> None:
        for port in range(MAX_SHARED_ADDRESSES + 10):
            self.server.sharedAddress(IPv4Address("TCP", "127.0.0.1", port))
        self.assertEqual(len(self.server._addresses), MAX_SHARED_ADDRESSES)
        beyond = IPv4Address("TCP", "127.0.0.1", 65000)
        self.assertIs(self.server.sharedAddress(beyond), beyond)

    def test_answersAreSentToThePeer(self) -> None:
        proto, transport = connectTo(Server(Echo()))
        proto.dataReceived(b"ping")
        self.assertEqual(transport.value(), b"ping")

    def test_onOpenMaySend(self) -> None:
        app = RecordingApplication(onOpen=lambda conn: SendMessage(conn, "welcome\n"))
        _, transport = connectTo(Server(app))
        self.assertEqual(transport.value(), b"welcome\n")


class OnCloseExactlyOnceTests(SynchronousTestCase):
    """onClose runs exactly once per connection, however it ends."""

    def setUp(self) -> None:
        self.app = RecordingApplication()
        self.server = Server(self.app)

    def assertClosedOnce(self, proto: ServerProtocol) -> None:
        closes = [event for event in self.app.events if event[0] == "onClose"]
        self.assertEqual(closes, [("onClose", proto.connection)])
        self.assertNotIn(proto, self.server.protocols)

    def test_peerCloses(self) -> None:
        proto, _ = connectTo(self.server)
        peerCloses(proto)
        self.assertClosedOnce(proto)

    def test_peerResets(self) -> None:
        proto, _ = connectTo(self.server)
        peerResets(proto)
        self.assertClosedOnce(proto)

    def test_abort(self) -> None:
        proto, _ = connectTo(self.server)
        proto.connection.abort()
        self.assertClosedOnce(proto)

    def test_applicationClosesIt(self) -> None:
        app = RecordingApplication(onMessage=lambda conn, msg: CloseConnection(conn))
        self.app, self.server = app, Server(app)
        proto, transport = connectTo(self.server)
        proto.dataReceived(b"quit")
        self.assertFalse(transport.connected)
        self.assertClosedOnce(proto)

    def test_connectionLostTwice(self) -> None:
        proto, _ = connectTo(self.server)
        peerCloses(proto)
        peerResets(proto)
        self.assertClosedOnce(proto)

    def test_closedThenLost(self) -> None:
        """The application closes it, and then the peer resets it anyway."""
        proto, _ = connectTo(self.server, StubbornTransport())
        proto.connection.close()
        self.assertEqual(self.app.callbacks(), ["onOpen"])
        peerResets(proto)
        peerCloses(proto)
        self.assertClosedOnce(proto)

    def test_closedByOnCloseOfAnother(self) -> None:
        """A connection closed from inside another's onClose still closes once."""
        a, _ = connectTo(self.server)
        b, _ = connectTo(self.server)
        self.app.answers["onClose"] = lambda conn: (
            CloseConnection(b.connection) if conn is a.connection else None
        )
        peerCloses(a)
        self.assertEqual(
            [event[1] for event in self.app.events if event[0] == "onClose"],
            [a.connection, b.connection],
        )
        self.assertEqual(self.server.protocols, set())


class CloseAllTests(SynchronousTestCase):
    """Server.closeAll: the server is shutting down."""

    def setUp(self) -> None:
        self.app = RecordingApplication()
        self.server = Server(self.app)
        self.clock = Clock()

    def closedConnections(self) -> list[IConnection]:
        return [event[1] for event in self.app.events if event[0] == "onClose"]

    def test_noConnections(self) -> None:
        self.successResultOf(self.server.closeAll(clock=self.clock))

    def test_closesEveryConnectionOnce(self) -> None:
        protos = [connectTo(self.server)[0] for _ in range(3)]
        done = self.server.closeAll(clock=self.clock)
        self.successResultOf(done)
        self.assertEqual(
            sorted(conn.id for conn in self.closedConnections()),
            sorted(proto.connection.id for proto in protos),
        )
        self.assertEqual(self.server.protocols, set())

    def test_closesGracefully(self) -> None:
        proto, transport = connectTo(self.server, StubbornTransport())
        self.server.closeAll(clock=self.clock)
        self.assertTrue(transport.disconnecting)
        self.assertFalse(transport.aborted)

    def test_noTimerLeftWhenEveryoneClosedInTime(self) -> None:
        connectTo(self.server)
        self.successResultOf(self.server.closeAll(timeout=5, clock=self.clock))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_waitsForConnectionsThatCloseLater(self) -> None:
        proto, transport = connectTo(self.server, StubbornTransport())
        done = self.server.closeAll(timeout=5, clock=self.clock)
        self.assertNoResult(done)
        self.clock.advance(1)
        peerCloses(proto)  # the peer finished the graceful close
        self.successResultOf(done)
        self.assertFalse(transport.aborted)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_abortsStragglersAfterTheTimeout(self) -> None:
        quick, _ = connectTo(self.server)
        slow, slowTransport = connectTo(self.server, StubbornTransport())
        done = self.server.closeAll(timeout=5, clock=self.clock)
        self.assertEqual(self.closedConnections(), [quick.connection])
        self.clock.advance(4.9)
        self.assertNoResult(done)
        self.assertFalse(slowTransport.aborted)
        self.clock.advance(0.1)
        self.assertTrue(slowTransport.aborted)
        self.successResultOf(done)
        self.assertEqual(self.closedConnections(), [quick.connection, slow.connection])

    def test_stragglerAbortIsLogged(self) -> None:
        log = LogCapture(self)
        slow, _ = connectTo(self.server, StubbornTransport())
        self.server.closeAll(timeout=1, clock=self.clock)
        self.clock.advance(1)
        self.assertTrue(
            [e for e in log.events if repr(slow.connection) in formatEvent(e)],
            "the abort of a straggler names it in the log",
        )

    def test_closesThroughTheOutermostLayer(self) -> None:
        """
        Connections are closed through the view the application sees, so a
        WebSocket client would get a close frame with 1001 (going away).
        """
        closes = []

        class Layer(ConnectionDecorator):
            def close(self, code: int | None = None, reason: str = "") -> None:
                closes.append((code, reason))
                super().close(code, reason)

        def decorate(conn: TransportConnection) -> None:
            Layer(conn)  # becomes conn.view, as a protocol layer's view does

        server = Server(RecordingApplication(onOpen=decorate))
        connectTo(server)
        self.successResultOf(server.closeAll(clock=self.clock))
        self.assertEqual(len(closes), 1)
        self.assertEqual(closes[0][0], CloseCode.GOING_AWAY)
        self.assertEqual(CloseCode.GOING_AWAY, 1001)

    def test_calledTwiceBothFire(self) -> None:
        connectTo(self.server, StubbornTransport())
        first = self.server.closeAll(timeout=5, clock=self.clock)
        second = self.server.closeAll(timeout=5, clock=self.clock)
        self.clock.advance(5)
        self.successResultOf(first)
        self.successResultOf(second)
        self.assertEqual(len(self.closedConnections()), 1)


class ErrorIsolationTests(SynchronousTestCase):
    """An application failing for one connection does not hurt the others."""

    def setUp(self) -> None:
        self.cursed: set[int] = set()
        cursed = self.cursed

        @implementer(IApplication)
        class Fragile(Echo):
            """Echo, except that every callback raises for a cursed connection."""

            def _check(self, conn: IConnection) -> None:
                if conn.id in cursed:
                    raise RuntimeError(f"cursed #{conn.id}")

            def onOpen(self, conn: IConnection) -> None:
                conn.state.opened = True
                self._check(conn)

            def onMessage(self, conn: IConnection, message: bytes) -> SendMessage:
                self._check(conn)
                return super().onMessage(conn, message)

            def onClose(self, conn: IConnection) -> None:
                self._check(conn)

            def onError(self, conn: IConnection, failure: Failure) -> None:
                self._check(conn)

        self.server = Server(Fragile())

    def test_failingConnectionIsClosedOthersCarryOn(self) -> None:
        good, goodTransport = connectTo(self.server)
        good.dataReceived(b"before ")
        bad, badTransport = connectTo(self.server, StubbornTransport())
        self.cursed.add(bad.connection.id)
        bad.dataReceived(b"poison")
        good.dataReceived(b"after")
        self.assertEqual(goodTransport.value(), b"before after")
        self.assertEqual(badTransport.value(), b"")
        self.assertTrue(badTransport.disconnecting, "onError raised: the connection is closed")
        self.assertTrue(goodTransport.connected)
        self.flushLoggedErrors(RuntimeError)

    def test_raisingInEveryCallbackNeverEscapesTheProtocol(self) -> None:
        app = RecordingApplication(
            onOpen=raising(RuntimeError("open")),
            onMessage=raising(RuntimeError("message")),
            onClose=raising(RuntimeError("close")),
            onError=raising(RuntimeError("error")),
        )
        server = Server(app)
        first, _ = connectTo(server, StubbornTransport())
        first.dataReceived(b"x")
        peerCloses(first)
        second, secondTransport = connectTo(server, StubbornTransport())
        self.assertEqual(server.protocols, {second}, "the server still accepts clients")
        self.assertEqual(
            [name for name in app.callbacks() if name != "onError"],
            ["onOpen", "onMessage", "onClose", "onOpen"],
        )
        self.assertTrue(secondTransport.disconnecting, "onError raised: the connection is closed")
        self.flushLoggedErrors(RuntimeError)

    def test_failureInOnCloseStillForgetsTheConnection(self) -> None:
        app = RecordingApplication(onClose=raising(RuntimeError("close")))
        server = Server(app)
        proto, _ = connectTo(server)
        peerCloses(proto)
        self.assertEqual(server.protocols, set())
        self.successResultOf(server.closeAll(clock=Clock()))
        self.flushLoggedErrors(RuntimeError)


class FlowControlTests(SynchronousTestCase):
    """The protocol stops reading from a peer whose write buffer is full."""

    def setUp(self) -> None:
        self.proto, self.transport = connectTo(Server(Echo()))

    def test_registeredAsStreamingProducer(self) -> None:
        self.assertIs(self.transport.producer, self.proto)
        self.assertTrue(self.transport.streaming)

    def test_readingStopsWhenTheTransportPauses(self) -> None:
        self.transport.producer.pauseProducing()
        self.assertEqual(self.transport.producerState, "paused")

    def test_readingResumesWhenTheBufferDrains(self) -> None:
        self.transport.producer.pauseProducing()
        self.transport.producer.resumeProducing()
        self.assertEqual(self.transport.producerState, "producing")

    def test_readingIsNotPausedAtFirst(self) -> None:
        self.assertEqual(self.transport.producerState, "producing")


class ServerConstructionTests(SynchronousTestCase):
    def test_refusesSomethingThatIsNotAnApplication(self) -> None:
        error = self.assertRaises(TypeError, Server, object())
        self.assertIn("IApplication", str(error))

    def test_refusesAnApplicationClass(self) -> None:
        """The class is not an application; an instance of it is."""
        self.assertRaises(TypeError, Server, Echo)

    def test_servesTheApplicationGiven(self) -> None:
        app = Echo()
        self.assertIs(Server(app).app, app)

    def test_buildsServerProtocols(self) -> None:
        server = Server(Echo())
        proto, _ = connectTo(server)
        self.assertIsInstance(proto, ServerProtocol)
        self.assertIs(proto.factory, server)


class ChatTests(SynchronousTestCase):
    """Clients chatting through the Chat example over in-memory transports."""

    def setUp(self) -> None:
        self.server = Server(Chat())
        self.alice, self.aliceSees = connectTo(self.server)
        self.bob, self.bobSees = connectTo(self.server)

    def test_messageReachesTheOtherNotTheSender(self) -> None:
        self.alice.dataReceived(b"hi bob")
        self.assertEqual(self.bobSees.value(), b"hi bob")
        self.assertEqual(self.aliceSees.value(), b"")

    def test_conversation(self) -> None:
        self.alice.dataReceived(b"hi bob\n")
        self.bob.dataReceived(b"hi alice\n")
        self.alice.dataReceived(b"bye\n")
        self.assertEqual(self.bobSees.value(), b"hi bob\nbye\n")
        self.assertEqual(self.aliceSees.value(), b"hi alice\n")

    def test_broadcastToEveryoneElse(self) -> None:
        carol, carolSees = connectTo(self.server)
        self.alice.dataReceived(b"all")
        self.assertEqual(
            (self.aliceSees.value(), self.bobSees.value(), carolSees.value()),
            (b"", b"all", b"all"),
        )

    def test_departedClientIsNoLongerSentTo(self) -> None:
        carol, carolSees = connectTo(self.server)
        peerCloses(self.bob)
        self.alice.dataReceived(b"still here?")
        self.assertEqual(self.bobSees.value(), b"")
        self.assertEqual(carolSees.value(), b"still here?")

    def test_lateJoinerGetsOnlyNewMessages(self) -> None:
        self.alice.dataReceived(b"early")
        carol, carolSees = connectTo(self.server)
        self.alice.dataReceived(b"late")
        self.assertEqual(carolSees.value(), b"late")

    def test_aliceAloneSendsToNoOne(self) -> None:
        peerCloses(self.bob)
        self.alice.dataReceived(b"anyone?")
        self.assertEqual(self.aliceSees.value(), b"")
        self.assertTrue(self.aliceSees.connected)
