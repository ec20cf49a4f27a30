"""
Connection limits: C{maxConnections} (503), C{maxConnectionsPerAddress} (429),
blocked networks (a blocked socket address is dropped at once, a blocked
forwarded address answered 403) and C{trustedProxies} with
C{X-Forwarded-For}.

Unit tests drive C{Server(WebSocket(app, ...))} over in-memory transports
(L{tests.websocket.helpers}); one integration test runs a real twistd with
the matching flags.
"""

from __future__ import annotations

from ipaddress import ip_address

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket import HandshakeError
from tests.abuse.support import (
    rawConnect,
    readUntilClosed,
    startProbe,
)
from tests.support.apps import LogCapture
from tests.support.wsclients import HandshakeRefused, HybiClient
from tests.websocket.helpers import (
    SAMPLE_KEY3,
    Harness,
    Peer,
    RecordingTransport,
    hixie76Request,
    hybiRequest,
    loggedLines,
)

_ports = iter(range(20000, 65000))


def transportFrom(host: str) -> RecordingTransport:
    """An in-memory transport whose peer is at C{host}."""
    transport = RecordingTransport(next(_ports))
    kind = IPv6Address if ":" in host else IPv4Address
    transport.peerAddr = kind("TCP", host, transport.peerAddr.port)
    return transport


def forwardedFor(value: str) -> bytes:
    return hybiRequest(13, extra=[f"X-Forwarded-For: {value}"])


class LimitTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.log = LogCapture(self)

    def harness(self, **options) -> Harness:
        self.h = Harness(**options)
        return self.h

    def attempt(self, host: str = "192.0.2.7", request: bytes | None = None) -> tuple[Peer, int]:
        """A connection from C{host} and the status its handshake got."""
        peer = self.h.connect(transportFrom(host))
        response = peer.handshake(request)
        return peer, response.status

    def assertNothingHeld(self) -> None:
        layer = self.h.layer
        self.assertEqual(layer._admitted, 0)
        self.assertEqual(layer._perAddress, {})
        self.assertEqual(layer._connections, {})
        self.assertEqual((layer.connections, layer._openCount), (set(), 0))
        self.assertEqual(self.h.server.protocols, set())


class MaxConnectionsTests(LimitTestCase):
    def test_503BeyondTheLimit(self) -> None:
        self.harness(maxConnections=2)
        self.attempt("192.0.2.1")
        self.attempt("192.0.2.2")
        peer = self.h.connect(transportFrom("192.0.2.3"))
        response = peer.handshake()
        self.assertEqual(response.status, 503)
        self.assertEqual(response.header("Retry-After"), "5")
        self.assertTrue(peer.closed)
        self.assertEqual(self.h.layer._admitted, 2)

    def test_aSlotFreedIsReused(self) -> None:
        self.harness(maxConnections=2)
        first, _ = self.attempt("192.0.2.1")
        self.attempt("192.0.2.2")
        self.assertEqual(self.attempt("192.0.2.3")[1], 503)
        first.sendClose()
        self.assertTrue(first.closed)
        self.assertEqual(self.attempt("192.0.2.3")[1], 101)
        self.assertEqual(self.attempt("192.0.2.4")[1], 503)

    def test_handshakesInProgressTakeNoSlot(self) -> None:
        self.harness(maxConnections=1)
        waiting = [self.h.connect(transportFrom("192.0.2.9")) for _ in range(5)]
        self.assertEqual(self.attempt()[1], 101)
        self.assertEqual(len(waiting), len(self.h.server.protocols) - 1)

    def test_refusalsTakeNoSlot(self) -> None:
        """Handshakes refused for another reason (400, 426, 403 origin) count nothing."""
        self.harness(maxConnections=1, origins=["https://good.example"])
        self.assertEqual(self.attempt(request=hybiRequest(9))[1], 426)
        self.assertEqual(self.attempt(request=hybiRequest(13, key="short"))[1], 400)
        self.assertEqual(self.attempt(request=hybiRequest(13, origin="https://evil"))[1], 403)
        self.assertEqual(self.h.layer._admitted, 0)
        self.assertEqual(
            self.attempt(request=hybiRequest(13, origin="https://good.example"))[1], 101
        )

    def test_slotReleasedWhenDroppedBeforeOpen(self) -> None:
        """
        A client is admitted once its whole handshake is read (a Hixie-76
        client's key3 included), before the application's C{onHandshake}
        decides: dropping it while it waits (or timing out) gives the slot
        back.
        """
        self.harness(maxConnections=1)
        self.h.layer.onHandshake = lambda conn: Deferred()
        peer = self.h.connect(transportFrom("192.0.2.1"))
        peer.receive(hixie76Request())
        self.assertEqual(self.h.layer._admitted, 0)
        peer.receive(SAMPLE_KEY3)
        self.assertEqual(self.h.layer._admitted, 1)
        peer.transport.reportLost()
        self.assertEqual(self.h.layer._admitted, 0)
        peer = self.h.connect(transportFrom("192.0.2.1"))
        peer.receive(hixie76Request() + SAMPLE_KEY3)
        self.assertEqual(self.h.layer._admitted, 1)
        self.h.clock.advance(self.h.layer.settings.handshakeTimeout)
        self.assertTrue(peer.aborted)
        self.assertNothingHeld()
        self.h.layer.onHandshake = None
        peer = self.h.connect(transportFrom("192.0.2.1"))
        peer.receive(hixie76Request() + SAMPLE_KEY3)
        self.assertEqual(peer.response().status, 101)

    def test_slotReleasedWhenTheHookRefuses(self) -> None:
        def hook(conn) -> None:
            raise HandshakeError(403, "not you")

        self.harness(maxConnections=1, onHandshake=hook)
        self.assertEqual(self.attempt()[1], 403)
        self.assertNothingHeld()

    def test_slotReleasedWhenGoneWhileTheHookRuns(self) -> None:
        pending: list[Deferred] = []

        def hook(conn) -> Deferred:
            pending.append(Deferred())
            return pending[-1]

        self.harness(maxConnections=1, onHandshake=hook)
        peer = self.h.connect(transportFrom("192.0.2.1"))
        peer.receive(hybiRequest())
        self.assertEqual(self.h.layer._admitted, 1)
        peer.transport.reportLost()
        pending[0].callback(None)
        self.assertEqual(peer.output(), b"")
        self.assertNothingHeld()
        self.assertEqual(self.h.app.callbacks(), [])

    def test_everythingReleasedAfterAChurn(self) -> None:
        self.harness(maxConnections=3, maxConnectionsPerAddress=2)
        statuses = []
        peers = []
        for i in range(12):
            peer, status = self.attempt(f"192.0.2.{i % 4}")
            statuses.append(status)
            peers.append(peer)
            if i % 3 == 2:
                peers[i - 1].sendClose()
        self.assertLessEqual(set(statuses), {101, 429, 503})
        self.assertIn(503, statuses)
        for peer in peers:
            peer.transport.reportLost()
        self.assertNothingHeld()


class PerAddressTests(LimitTestCase):
    def test_429BeyondTheLimit(self) -> None:
        self.harness(maxConnectionsPerAddress=2)
        self.assertEqual(self.attempt("192.0.2.1")[1], 101)
        self.assertEqual(self.attempt("192.0.2.1")[1], 101)
        peer = self.h.connect(transportFrom("192.0.2.1"))
        self.assertEqual(peer.handshake().status, 429)
        self.assertTrue(peer.closed)
        self.assertEqual(self.attempt("192.0.2.2")[1], 101)
        self.assertEqual(self.attempt("2001:db8::1")[1], 101)
        self.assertEqual(
            self.h.layer._perAddress, {"192.0.2.1": 2, "192.0.2.2": 1, "2001:db8::1": 1}
        )

    def test_countsFallWhenConnectionsClose(self) -> None:
        self.harness(maxConnectionsPerAddress=1)
        peer, _ = self.attempt("192.0.2.1")
        self.assertEqual(self.attempt("192.0.2.1")[1], 429)
        peer.transport.reportLost()
        self.assertEqual(self.attempt("192.0.2.1")[1], 101)

    def test_bothLimitsTogether(self) -> None:
        """The server limit is checked first: a full server answers 503 to anyone."""
        self.harness(maxConnections=2, maxConnectionsPerAddress=1)
        self.attempt("192.0.2.1")
        self.assertEqual(self.attempt("192.0.2.1")[1], 429)
        self.attempt("192.0.2.2")
        self.assertEqual(self.attempt("192.0.2.1")[1], 503)
        self.assertEqual(self.attempt("192.0.2.3")[1], 503)


class BlockedTests(LimitTestCase):
    def test_blockedSocketAddressDroppedAtOnce(self) -> None:
        """No answer at all: the connection is aborted before any byte is read."""
        self.harness(blocked=["192.0.2.0/24", "2001:db8::/32"])
        for host in ("192.0.2.77", "2001:db8::5"):
            peer = self.h.connect(transportFrom(host))
            self.assertTrue(peer.aborted)
            self.assertEqual(peer.output(), b"")
            peer.receive(hybiRequest())
            self.assertEqual(peer.output(), b"")
        self.assertEqual(self.h.app.callbacks(), [])
        self.assertEqual(self.attempt("198.51.100.1")[1], 101)
        self.assertTrue(loggedLines(self.log, "blocked"))

    def test_blockedForwardedAddress403(self) -> None:
        self.harness(blocked=["198.51.100.0/24"], trustedProxies=1)
        peer, status = self.attempt("203.0.113.1", forwardedFor("198.51.100.9"))
        self.assertEqual(status, 403)
        self.assertTrue(peer.closed)
        self.assertEqual(self.attempt("203.0.113.1", forwardedFor("192.0.2.9"))[1], 101)

    def test_blockedForwardedAddressIgnoredWithoutTrustedProxies(self) -> None:
        self.harness(blocked=["198.51.100.0/24"])
        self.assertEqual(self.attempt("203.0.113.1", forwardedFor("198.51.100.9"))[1], 101)

    def test_blockedCheckedBeforeCapacity(self) -> None:
        """A blocked client learns it is blocked (403), not that the server is full."""
        self.harness(blocked=["198.51.100.0/24"], trustedProxies=1, maxConnections=1)
        self.attempt("203.0.113.1")
        self.assertEqual(self.attempt("203.0.113.1", forwardedFor("198.51.100.9"))[1], 403)


class TrustedProxyTests(LimitTestCase):
    def test_remoteAddressIsTheForwardedClient(self) -> None:
        self.harness(trustedProxies=1)
        peer, _ = self.attempt("203.0.113.1", forwardedFor("spoofed, 198.51.100.7"))
        self.assertEqual(peer.conn.remoteAddress, IPv4Address("TCP", "198.51.100.7", 0))
        # The application sees the same address.
        opened = self.h.app.events[0][1]
        self.assertEqual(opened.remoteAddress.host, "198.51.100.7")
        # The socket's own view is unchanged.
        self.assertEqual(peer.proto.connection.remoteAddress.host, "203.0.113.1")

    def test_twoProxies(self) -> None:
        self.harness(trustedProxies=2)
        peer, _ = self.attempt("10.0.0.2", forwardedFor("6.6.6.6, 198.51.100.7, 10.0.0.1"))
        self.assertEqual(peer.conn.remoteAddress.host, "198.51.100.7")

    def test_fewerHopsThanProxies(self) -> None:
        """The leftmost hop is the best guess when the chain is shorter."""
        self.harness(trustedProxies=3)
        peer, _ = self.attempt("10.0.0.2", forwardedFor("198.51.100.7"))
        self.assertEqual(peer.conn.remoteAddress.host, "198.51.100.7")

    def test_ipv6Forwarded(self) -> None:
        self.harness(trustedProxies=1)
        peer, _ = self.attempt("203.0.113.1", forwardedFor("[2001:db8::7]"))
        self.assertEqual(peer.conn.remoteAddress, IPv6Address("TCP", "2001:db8::7", 0))

    def test_garbageFallsBackToThePeer(self) -> None:
        self.harness(trustedProxies=1)
        for value in (
            "not-an-address",
            ",,,",
            "   ",
            "1.2.3.4.5",
            "198.51.100.7:8080",
            "\u00e9" * 3,
            "2001:db8::7%eth0x" * 40,
        ):
            peer, status = self.attempt("203.0.113.1", forwardedFor(value))
            self.assertEqual(status, 101, value)
            self.assertEqual(peer.conn.remoteAddress.host, "203.0.113.1", value)
            ip_address(peer.conn.remoteAddress.host)

    def test_countsPerForwardedAddress(self) -> None:
        """Many clients behind one proxy are counted one by one, not as the proxy."""
        self.harness(trustedProxies=1, maxConnectionsPerAddress=1)
        for i in range(5):
            self.assertEqual(self.attempt("203.0.113.1", forwardedFor(f"198.51.100.{i}"))[1], 101)
        self.assertEqual(self.attempt("203.0.113.1", forwardedFor("198.51.100.0"))[1], 429)
        self.assertEqual(len(self.h.layer._perAddress), 5)

    def test_untrustedHeaderIgnored(self) -> None:
        """With trustedProxies=0 the header changes nothing: not the address, not the count."""
        self.harness(maxConnectionsPerAddress=1)
        peer, _ = self.attempt("203.0.113.1", forwardedFor("198.51.100.1"))
        self.assertEqual(peer.conn.remoteAddress.host, "203.0.113.1")
        self.assertEqual(self.attempt("203.0.113.1", forwardedFor("198.51.100.2"))[1], 429)
        self.assertEqual(self.h.layer._perAddress, {"203.0.113.1": 1})


class TwistdLimitTests(SynchronousTestCase):
    """The flags, end to end, on real sockets."""

    def test_flags(self) -> None:
        proc = startProbe(
            "--max-connections", "4",
            "--max-connections-per-address", "2",
            "--trusted-proxies", "1",
            "--block", "10.9.9.0/24",
            "--block", "127.0.0.3",
        )  # fmt: skip
        self.addCleanup(proc.stop)
        port = proc.port
        clients = []

        def status(headers=()) -> int:
            try:
                clients.append(HybiClient(port, headers=headers))
            except HandshakeRefused as refused:
                return refused.response.status
            return 101

        xff = [("X-Forwarded-For", "198.51.100.1")]
        try:
            self.assertEqual(status(), 101)
            self.assertEqual(status(), 101)
            self.assertEqual(status(), 429)
            self.assertEqual(status(xff), 101)
            self.assertEqual(status([("X-Forwarded-For", "10.9.9.9")]), 403)
            self.assertEqual(status([("X-Forwarded-For", "198.51.100.2")]), 101)
            self.assertEqual(status([("X-Forwarded-For", "198.51.100.3")]), 503)
            # A blocked socket address is dropped without an answer.
            blocked = rawConnect(port, source="127.0.0.3")
            try:
                # The server may have reset the connection already.
                blocked.sendall(hybiRequest(13))
                data, _ = readUntilClosed(blocked)
            except ConnectionError:
                data = b""
            blocked.close()
            self.assertEqual(data, b"")
            # Closing frees the slots again.
            while clients:
                clients.pop().close()
            self.assertEqual([status(), status(), status(xff), status()], [101, 101, 101, 429])
        finally:
            for client in clients:
                client.abort()
        self.assertIn("its address is blocked", proc.log())
