"""
L{WebSocketResource}: a WebSocket application at a path of a twisted.web
L{Site}, for every version, fed through the real HTTP parser in every chunk
size (Hixie-76's key bytes glued to the head, split from it, and followed by
the first frame in the same read).
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import Data

from ratchet_tx.examples.echo import Echo
from ratchet_tx.web import WebSocketResource
from ratchet_tx.websocket import WebSocket
from ratchet_tx.websocket.codecs import hybi
from tests.support.apps import RecordingApplication
from tests.websocket.helpers import (
    HIXIE_CLOSE,
    RFC_ACCEPT,
    SAMPLE_ANSWER,
    SAMPLE_KEY3,
    chunks,
    closeFrame,
    hixie75Request,
    hixie76Request,
    hixieText,
    hybiRequest,
    textFrame,
)

#: The message limit given to decoders where the test needs no other.
LIMIT = 16 * 2**20


class SiteHarness:
    """A L{Site} with a page at C{/} and an application at C{/chat}."""

    def __init__(self, app: object | None = None) -> None:
        self.clock = Clock()
        self.app = app if app is not None else Echo()
        self.resource = WebSocketResource(WebSocket(self.app, clock=self.clock))
        root = Resource()
        root.putChild(b"", Data(b"<p>home</p>", "text/html"))
        root.putChild(b"chat", self.resource)
        # The channels time out on the test's clock, not the global reactor.
        self.site = Site(root, reactor=self.clock)

    def connect(self) -> StringTransport:
        transport = StringTransport(
            hostAddress=IPv4Address("TCP", "127.0.0.1", 8080),
            peerAddress=IPv4Address("TCP", "127.0.0.1", 50000),
        )
        channel = self.site.buildProtocol(transport.getPeer())
        channel.makeConnection(transport)
        self.channel = channel
        return transport

    def feed(self, data: bytes, size: int | None = None) -> None:
        for piece in chunks(data, size or len(data)):
            # Later reads go wherever the transport delivers them: the
            # channel's dataReceived, which the resource rewires.
            self.channel.dataReceived(piece)


def unmask(data: bytes) -> list[object]:
    """Decode the frames a server sent."""
    return hybi.FrameDecoder(maxMessageSize=LIMIT, expectMasked=False).feed(data)


class UpgradeTests(SynchronousTestCase):
    """Every version upgrades through the web server, in every chunking."""

    def assertEchoes(self, request: bytes, expectStatus: bytes, frames: bytes, answer: bytes):
        whole = request + frames
        for size in range(1, len(whole) + 1):
            harness = SiteHarness()
            transport = harness.connect()
            harness.feed(whole, size)
            written = transport.value()
            self.assertTrue(written.startswith(expectStatus), (size, written[:80]))
            self.assertTrue(written.endswith(answer), (size, written[-40:]))

    def test_rfc6455(self) -> None:
        response = b"HTTP/1.1 101 Switching Protocols\r\n"
        request = hybiRequest(13, "/chat")
        self.assertEchoes(request, response, textFrame("hi"), b"\x81\x02hi")
        harness = SiteHarness()
        transport = harness.connect()
        harness.feed(request)
        self.assertIn(f"Sec-WebSocket-Accept: {RFC_ACCEPT}".encode(), transport.value())

    def test_hybi10(self) -> None:
        self.assertEchoes(
            hybiRequest(8, "/chat"), b"HTTP/1.1 101 ", textFrame("hi"), b"\x81\x02hi"
        )

    def test_hixie76KeyBytesGluedSplitAndFollowedByAFrame(self) -> None:
        """
        The 8 key bytes after the head (no Content-Length) reach the layer,
        whether they come with the head, alone, split, or with a frame.
        """
        self.assertEchoes(
            hixie76Request("/chat") + SAMPLE_KEY3,
            b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n",
            hixieText("hello"),
            SAMPLE_ANSWER + hixieText("hello"),
        )

    def test_hixie75(self) -> None:
        self.assertEchoes(
            hixie75Request("/chat"),
            b"HTTP/1.1 101 Web Socket Protocol Handshake\r\n",
            hixieText("old"),
            hixieText("old"),
        )

    def test_laterReadsReachTheLayer(self) -> None:
        """After the upgrade, every read goes to the WebSocket layer."""
        harness = SiteHarness()
        transport = harness.connect()
        harness.feed(hixie76Request("/chat"))
        harness.feed(SAMPLE_KEY3)
        transport.clear()
        harness.feed(hixieText("one"))
        harness.feed(hixieText("two") + HIXIE_CLOSE)
        self.assertEqual(transport.value(), hixieText("one") + hixieText("two") + HIXIE_CLOSE)
        self.assertTrue(transport.disconnecting)


class LifecycleTests(SynchronousTestCase):
    def test_onCloseOnceWhenThePeerGoes(self) -> None:
        """The application learns of the end of an upgraded connection once."""
        app = RecordingApplication()
        harness = SiteHarness(app)
        transport = harness.connect()
        harness.feed(hybiRequest(13, "/chat") + textFrame("x") + closeFrame(1000))
        self.assertEqual(unmask(transport.value().split(b"\r\n\r\n", 1)[1])[-1].code, 1000)
        harness.channel.connectionLost(Exception("gone"))
        self.assertEqual(app.callbacks(), ["onOpen", "onMessage", "onClose"])
        self.assertEqual(harness.resource.serverFactory.protocols, set())

    def test_closeAllClosesUpgradedConnections(self) -> None:
        """Shutdown reaches connections that came through the site."""
        harness = SiteHarness()
        transport = harness.connect()
        harness.feed(hybiRequest(13, "/chat"))
        transport.clear()
        harness.resource.serverFactory.closeAll(clock=harness.clock)
        self.assertEqual(unmask(transport.value())[0].code, 1001)


class PlainRequestTests(SynchronousTestCase):
    def test_plainGetIsAnsweredWith426(self) -> None:
        harness = SiteHarness()
        transport = harness.connect()
        harness.feed(b"GET /chat HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 426 Upgrade Required\r\n"))
        self.assertIn(b"Upgrade: websocket", transport.value())

    def test_siteStillServesPages(self) -> None:
        """The rest of the site is untouched, on the same connection type."""
        harness = SiteHarness()
        transport = harness.connect()
        harness.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"<p>home</p>", transport.value())
