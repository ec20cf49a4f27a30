"""
Tests for L{ratchet_tx.flashpolicy}: the Flash socket policy server.
"""

from __future__ import annotations

from typing import cast

from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTCP
from twisted.internet.protocol import ClientFactory, Protocol, connectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from ratchet_tx.flashpolicy import (
    DEFAULT_POLICY_TIMEOUT,
    FlashPolicyFactory,
    FlashPolicyProtocol,
)
from ratchet_tx.websocket.codecs.flashpolicy import POLICY_REQUEST, FlashPolicy
from tests.support.apps import LogCapture

POLICY = FlashPolicy(ports=(8080,))

tcp = cast(IReactorTCP, reactor)


class FlashPolicyProtocolTests(SynchronousTestCase):
    """
    One policy connection, over a L{StringTransport} and a L{Clock}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.factory = FlashPolicyFactory(POLICY, timeout=3, reactor=self.clock)
        self.log = LogCapture(self)
        self.proto, self.transport = self.connect()

    def connect(self) -> tuple[FlashPolicyProtocol, StringTransport]:
        proto = self.factory.buildProtocol(None)
        transport = StringTransport()
        proto.makeConnection(transport)
        return proto, transport

    def assertAnswered(self) -> None:
        self.assertEqual(self.transport.value(), POLICY.render())
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_request(self) -> None:
        self.proto.dataReceived(POLICY_REQUEST)
        self.assertAnswered()

    def test_requestInPieces(self) -> None:
        for index in range(len(POLICY_REQUEST)):
            self.assertEqual(self.transport.value(), b"")
            self.proto.dataReceived(POLICY_REQUEST[index : index + 1])
        self.assertAnswered()

    def test_everyChunking(self) -> None:
        self.proto.connectionLost(connectionDone)
        for size in range(1, len(POLICY_REQUEST) + 1):
            self.proto, self.transport = self.connect()
            for start in range(0, len(POLICY_REQUEST), size):
                self.proto.dataReceived(POLICY_REQUEST[start : start + size])
            self.assertAnswered()

    def test_moreAfterTheRequestIgnored(self) -> None:
        self.proto.dataReceived(POLICY_REQUEST + b"x" * 100000)
        self.proto.dataReceived(b"more")
        self.assertAnswered()

    def test_notARequest(self) -> None:
        """
        Anything else is dropped at its first wrong byte, with one log line.
        """
        self.proto.dataReceived(b"G")
        self.assertEqual(self.transport.value(), b"")
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        [event] = self.log.events
        self.assertEqual(event["start"], b"G")
        self.proto.dataReceived(b"ET / HTTP/1.1\r\n")
        self.assertEqual(self.transport.value(), b"")

    def test_timeout(self) -> None:
        self.proto.dataReceived(POLICY_REQUEST[:5])
        self.clock.advance(2.9)
        self.assertFalse(self.transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.transport.value(), b"")
        [event] = self.log.events
        self.assertEqual(event["timeout"], 3)
        self.proto.dataReceived(POLICY_REQUEST[5:])
        self.assertEqual(self.transport.value(), b"")

    def test_lostCancelsTimer(self) -> None:
        self.proto.connectionLost(Failure(ConnectionError()))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_factory(self) -> None:
        self.assertEqual(FlashPolicyFactory(POLICY).timeout, DEFAULT_POLICY_TIMEOUT)
        self.assertIs(FlashPolicyFactory(POLICY).reactor, reactor)
        self.assertEqual(self.factory.answer, POLICY.render())
        self.assertRaises(ValueError, FlashPolicyFactory, POLICY, timeout=0)


class _Asker(Protocol):
    def __init__(self, request: bytes) -> None:
        self.request = request
        self.received = b""
        self.done: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(self.request)  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.done.callback(self.received)


class LoopbackTests(TestCase):
    """
    A real listening port answers a real client and closes.
    """

    timeout = 30

    def setUp(self) -> None:
        port = tcp.listenTCP(0, FlashPolicyFactory(POLICY), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.port = cast(IPv4Address, port.getHost()).port

    def ask(self, request: bytes) -> Deferred[bytes]:
        asker = _Asker(request)
        factory = ClientFactory()
        factory.buildProtocol = lambda addr: asker  # type: ignore[method-assign, assignment, return-value]
        tcp.connectTCP("127.0.0.1", self.port, factory)
        return asker.done

    async def test_answered(self) -> None:
        self.assertEqual(await self.ask(POLICY_REQUEST), POLICY.render())

    async def test_refused(self) -> None:
        self.assertEqual(await self.ask(b"GET / HTTP/1.1\r\n\r\n"), b"")
