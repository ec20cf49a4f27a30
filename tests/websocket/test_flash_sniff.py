"""
Tests for L{ratchet_tx.flashpolicy.PolicySniff}: Flash policy requests
answered on a WebSocket port, in memory in every chunking, and over real
sockets against C{twistd ratchet --flash-policy-port}.
"""

from __future__ import annotations

import socket
import time

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs.flashpolicy import POLICY_REQUEST, FlashPolicy
from tests.support.apps import LogCapture
from tests.support.twistd import TwistdProcess, connect, recvUntil, recvUntilClosed
from tests.websocket.helpers import (
    SAMPLE_ANSWER,
    SAMPLE_KEY3,
    Harness,
    hixie76Request,
    hybiRequest,
    textFrame,
)

POLICY = FlashPolicy(ports=(8080,), domains=("example.com",))

#: The sizes the bytes are cut into: every one up to past the request's length.
CHUNKINGS = (*range(1, len(POLICY_REQUEST) + 2), None)


class InMemoryTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.log = LogCapture(self)

    def test_requestInEveryChunking(self) -> None:
        for size in CHUNKINGS:
            harness = Harness(flashPolicy=POLICY)
            peer = harness.connect()
            peer.receive(POLICY_REQUEST, size)
            self.assertEqual(peer.output(), POLICY.render(), size)
            self.assertEqual(peer.transport.loseConnectionCalls, 1, size)
            self.assertEqual(harness.clock.getDelayedCalls(), [], size)
            self.assertEqual(harness.app.callbacks(), [], size)

    def test_bytesAfterTheRequestAreIgnored(self) -> None:
        harness = Harness(flashPolicy=POLICY)
        peer = harness.connect()
        peer.transport.disconnectAtOnce = False
        peer.receive(POLICY_REQUEST + b"GET / HTTP/1.1\r\n")
        peer.receive(b"more")
        self.assertEqual(peer.output(), POLICY.render())

    def test_handshakesInEveryChunking(self) -> None:
        """A WebSocket handshake (and what follows it) is not changed by the sniff."""
        for size in (1, 2, 3, 7, None):
            harness = Harness(flashPolicy=POLICY)
            peer = harness.connect()
            response = peer.handshake(hybiRequest(), textFrame("hi"), size)
            self.assertEqual(response.status, 101, size)
            self.assertEqual(harness.app.callbacks(), ["onOpen", "onMessage"], size)
            self.assertEqual(harness.app.events[1][2], "hi")
            hixie = harness.connect()
            hixie.receive(hixie76Request() + SAMPLE_KEY3, size)
            self.assertEqual(hixie.response().body, SAMPLE_ANSWER, size)

    def test_aPrefixThenSomethingElse(self) -> None:
        """Bytes that start like the request and then differ go to the handshake: 400."""
        harness = Harness(flashPolicy=POLICY)
        peer = harness.connect()
        peer.receive(b"<policy")
        self.assertEqual(peer.output(), b"")
        peer.receive(b"-file-request\r\n\r\n")
        self.assertEqual(peer.response().status, 400)

    def test_stalledPrefixTimesOut(self) -> None:
        harness = Harness(flashPolicy=POLICY, handshakeTimeout=3)
        peer = harness.connect()
        peer.receive(b"<policy-file")
        harness.clock.advance(3)
        self.assertEqual(peer.transport.abortConnectionCalls, 1)
        self.assertEqual(harness.clock.getDelayedCalls(), [])

    def test_offByDefault(self) -> None:
        harness = Harness()
        peer = harness.connect()
        peer.receive(POLICY_REQUEST)
        self.assertNotEqual(peer.output(), POLICY.render())


def freePort() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RealSocketTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.policyPort = freePort()
        self.port = freePort()
        self.proc = TwistdProcess.start(
            "--listen",
            f"tcp:{self.port}:interface=127.0.0.1",
            "--app",
            "ratchet_tx.examples.echo:Echo",
            "--flash-policy-port",
            f"tcp:{self.policyPort}:interface=127.0.0.1",
            "--flash-policy-domain",
            "example.com",
        )
        self.addCleanup(self.proc.stop)
        # Both listeners are up once the log names them both.
        self.assertEqual(sorted(self.proc.ports), sorted([self.port, self.policyPort]))
        self.policy = FlashPolicy(ports=(self.port,), domains=("example.com",))

    def sendInPieces(self, sock: socket.socket, data: bytes, size: int) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for at in range(0, len(data), size):
            sock.sendall(data[at : at + size])
            time.sleep(0.002)

    def test_onTheWebSocketPortInPieces(self) -> None:
        for size in (1, 5, 22, 23):
            with connect(self.port) as sock:
                self.sendInPieces(sock, POLICY_REQUEST, size)
                self.assertEqual(recvUntilClosed(sock), self.policy.render(), size)

    def test_onThePolicyPort(self) -> None:
        with connect(self.policyPort) as sock:
            sock.sendall(POLICY_REQUEST)
            self.assertEqual(recvUntilClosed(sock), self.policy.render())

    def test_handshakeByteByByteStillWorks(self) -> None:
        with connect(self.port) as sock:
            self.sendInPieces(sock, hybiRequest(), 1)
            head = recvUntil(sock, b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
        self.assertNotIn("Traceback", self.proc.log())
