"""
The WebSocket layer's opening handshake, through C{Server(WebSocket(app))}
over in-memory transports: version detection, limits, refusals, sub-protocols,
origins, the C{onHandshake} hook, and what the connection tells the
application afterwards.

Every accepted handshake is also fed in every chunk size from one byte to
its whole length: a server must not care how TCP cut the request.
"""

from __future__ import annotations

import random

from twisted.internet.defer import Deferred, fail
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from ratchet_tx.commands import SendMessage
from ratchet_tx.interfaces import IApplication, IConnection
from ratchet_tx.websocket import (
    ALL_VERSIONS,
    HandshakeError,
    Settings,
    State,
    WebSocket,
    WebSocketConnection,
    WebSocketVersion,
)
from tests.support.apps import LogCapture, RecordingApplication
from tests.support.wsclients import hixie76Answer, hixie76Key
from tests.websocket.helpers import (
    RFC_ACCEPT,
    RFC_KEY,
    SAMPLE_ANSWER,
    SAMPLE_KEY3,
    Harness,
    RecordingTLSTransport,
    RecordingTransport,
    acceptFor,
    hixie75Request,
    hixie76Request,
    hixieText,
    hybiRequest,
    loggedLines,
    textFrame,
)

V = WebSocketVersion


def without(*versions: WebSocketVersion) -> frozenset[WebSocketVersion]:
    return ALL_VERSIONS - frozenset(versions)


class InterfaceTests(SynchronousTestCase):
    def test_layerIsAnApplication(self) -> None:
        verifyObject(IApplication, WebSocket(RecordingApplication()))

    def test_connectionIsAConnection(self) -> None:
        harness = Harness()
        peer = harness.open()
        verifyObject(IConnection, peer.conn)

    def test_appSeesTheWebSocketConnection(self) -> None:
        harness = Harness()
        peer = harness.open()
        [(name, conn)] = harness.app.events
        self.assertEqual(name, "onOpen")
        self.assertIs(conn, peer.conn)
        self.assertIsInstance(conn, WebSocketConnection)
        verifyObject(IConnection, conn)

    def test_refusesANonApplication(self) -> None:
        self.assertRaises(TypeError, WebSocket, object())


class HybiVersionTests(SynchronousTestCase):
    """
    C{Sec-WebSocket-Version} 13, 8 and 7: the same handshake, three versions.
    """

    def assertAcceptedInEveryChunking(self, wire: int, version: WebSocketVersion) -> None:
        request = hybiRequest(wire, origin="http://example.com")
        for size in range(1, len(request) + 1):
            harness = Harness()
            peer = harness.connect()
            response = peer.handshake(request, chunkSize=size)
            self.assertEqual(response.status, 101, f"chunk size {size}")
            self.assertEqual(response.header("Sec-WebSocket-Accept"), RFC_ACCEPT)
            self.assertEqual(response.header("Upgrade").lower(), "websocket")
            self.assertEqual(response.header("Connection").lower(), "upgrade")
            self.assertEqual(response.body, b"")
            self.assertEqual(harness.app.callbacks(), ["onOpen"], f"chunk size {size}")
            self.assertIs(peer.conn.version, version)
            self.assertIs(peer.conn.phase, State.OPEN)
            self.assertFalse(peer.closed)

    def test_rfc6455(self) -> None:
        self.assertAcceptedInEveryChunking(13, V.RFC6455)

    def test_hybi10(self) -> None:
        self.assertAcceptedInEveryChunking(8, V.HYBI_10)

    def test_hybi07(self) -> None:
        self.assertAcceptedInEveryChunking(7, V.HYBI_07)

    def test_acceptKeyForOtherKeys(self) -> None:
        for key in ("AQIDBAUGBwgJCgsMDQ4PEA==", "x3JJHMbDL1EzLkh9GBhXDw=="):
            response = Harness().connect().handshake(hybiRequest(key=key))
            self.assertEqual(response.header("Sec-WebSocket-Accept"), acceptFor(key))

    def test_rfcOriginFromOriginHeader(self) -> None:
        peer = Harness().open(hybiRequest(13, origin="https://a.example"))
        self.assertEqual(peer.conn.origin, "https://a.example")

    def test_hybi10OriginFromSecWebSocketOrigin(self) -> None:
        peer = Harness().open(hybiRequest(8, origin="https://b.example"))
        self.assertEqual(peer.conn.origin, "https://b.example")

    def test_hybi07OriginFromSecWebSocketOrigin(self) -> None:
        peer = Harness().open(hybiRequest(7, origin="https://c.example"))
        self.assertEqual(peer.conn.origin, "https://c.example")

    def test_browserHeaderVariants(self) -> None:
        """
        Firefox sends C{Connection: keep-alive, Upgrade}; some clients write
        C{Upgrade: WebSocket}; header names come in any case.
        """
        request = (
            b"GET /chat HTTP/1.1\r\n"
            b"host: server.example.com\r\n"
            b"UPGRADE: WebSocket\r\n"
            b"connection: keep-alive, Upgrade\r\n"
            b"sec-websocket-key: " + RFC_KEY.encode() + b"\r\n"
            b"SEC-WEBSOCKET-VERSION: 13\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            b"\r\n"
        )
        response = Harness().connect().handshake(request)
        self.assertEqual(response.status, 101)
        self.assertEqual(response.header("Sec-WebSocket-Accept"), RFC_ACCEPT)
        # permessage-deflate is agreed, without context takeover either way.
        self.assertEqual(
            response.header("Sec-WebSocket-Extensions"),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        )

    def test_welcomeMessageFollowsThe101(self) -> None:
        """What C{onOpen} sends goes out right after the handshake answer."""
        app = RecordingApplication(onOpen=lambda conn: SendMessage(conn, "welcome"))
        peer = Harness(app).connect()
        response = peer.handshake(hybiRequest())
        self.assertEqual(response.status, 101)
        self.assertEqual(response.body, b"\x81\x07welcome")

    def test_framesGluedToTheRequest(self) -> None:
        """A client may send its first frame in the same read as the request."""
        harness = Harness()
        peer = harness.connect()
        response = peer.handshake(hybiRequest(), after=textFrame("early"))
        self.assertEqual(response.status, 101)
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onMessage"])
        self.assertEqual(harness.app.events[1][2], "early")


class HixieVersionTests(SynchronousTestCase):
    def test_hixie76SampleInEveryChunking(self) -> None:
        """
        The draft's own example: keys, key3 and the answer it gives.
        """
        request = hixie76Request() + SAMPLE_KEY3
        for size in range(1, len(request) + 1):
            harness = Harness()
            peer = harness.connect()
            response = peer.handshake(request, chunkSize=size)
            self.assertEqual(response.status, 101, f"chunk size {size}")
            self.assertEqual(response.statusLine, "HTTP/1.1 101 WebSocket Protocol Handshake")
            self.assertEqual(response.body, SAMPLE_ANSWER)
            self.assertEqual(response.header("Upgrade"), "WebSocket")
            self.assertEqual(response.header("Connection"), "Upgrade")
            self.assertEqual(response.header("Sec-WebSocket-Origin"), "http://example.com")
            self.assertEqual(response.header("Sec-WebSocket-Location"), "ws://example.com/demo")
            self.assertIs(peer.conn.version, V.HIXIE_76)
            self.assertEqual(harness.app.callbacks(), ["onOpen"])

    def test_hixie76GeneratedKeys(self) -> None:
        """Keys made by the draft's client algorithm, with random noise."""
        rng = random.Random(76)
        for _ in range(50):
            key1, number1 = hixie76Key(rng)
            key2, number2 = hixie76Key(rng)
            key3 = bytes(rng.getrandbits(8) for _ in range(8))
            peer = Harness().connect()
            response = peer.handshake(hixie76Request(key1=key1, key2=key2), after=key3)
            self.assertEqual(response.status, 101, (key1, key2))
            self.assertEqual(response.body, hixie76Answer(number1, number2, key3))

    def test_hixie76Key3InALaterRead(self) -> None:
        """
        Nothing is answered until all eight bytes of key3 came, however they
        are split.
        """
        for size in range(1, 9):
            harness = Harness()
            peer = harness.connect()
            peer.receive(hixie76Request())
            self.assertEqual(peer.output(), b"")
            self.assertIs(peer.conn.phase, State.CONNECTING)
            self.assertEqual(harness.app.callbacks(), [])
            pieces = [SAMPLE_KEY3[at : at + size] for at in range(0, 8, size)]
            for piece in pieces[:-1]:
                peer.receive(piece)
                self.assertEqual(peer.output(), b"", f"chunk size {size}")
            peer.receive(pieces[-1])
            response = peer.response()
            self.assertEqual(response.body, SAMPLE_ANSWER, f"chunk size {size}")
            self.assertEqual(harness.app.callbacks(), ["onOpen"])

    def test_hixie76Key3GluedToTheFirstFrame(self) -> None:
        """
        key3 and the client's first frames in one read, and in every chunking
        of the whole exchange.
        """
        stream = hixie76Request() + SAMPLE_KEY3 + hixieText("first") + hixieText("second")
        for size in [len(stream), *range(1, 40)]:
            harness = Harness()
            peer = harness.connect()
            peer.receive(stream, chunkSize=size)
            response = peer.response()
            self.assertEqual(response.status, 101)
            self.assertTrue(
                response.body.startswith(SAMPLE_ANSWER), f"chunk size {size}: {response}"
            )
            self.assertEqual(
                [e[2] for e in harness.app.events if e[0] == "onMessage"],
                ["first", "second"],
                f"chunk size {size}",
            )
            # Echoed, after the answer.
            self.assertEqual(
                response.body[len(SAMPLE_ANSWER) :],
                hixieText("first") + hixieText("second"),
            )

    def test_hixie75InEveryChunking(self) -> None:
        request = hixie75Request(protocol="chat")
        for size in range(1, len(request) + 1):
            harness = Harness(subprotocols=["chat"])
            peer = harness.connect()
            response = peer.handshake(request, chunkSize=size)
            self.assertEqual(response.statusLine, "HTTP/1.1 101 Web Socket Protocol Handshake")
            self.assertTrue(
                response.raw.startswith(
                    b"HTTP/1.1 101 Web Socket Protocol Handshake\r\n"
                    b"Upgrade: WebSocket\r\nConnection: Upgrade\r\n"
                ),
                f"chunk size {size}",
            )
            self.assertEqual(response.header("WebSocket-Origin"), "http://example.com")
            self.assertEqual(response.header("WebSocket-Location"), "ws://example.com/demo")
            self.assertEqual(response.header("WebSocket-Protocol"), "chat")
            self.assertEqual(response.body, b"")
            self.assertIs(peer.conn.version, V.HIXIE_75)
            self.assertEqual(peer.conn.subprotocol, "chat")

    def test_locationKeepsTheQuery(self) -> None:
        peer = Harness().connect()
        response = peer.handshake(hixie76Request("/demo?room=1"), after=SAMPLE_KEY3)
        self.assertEqual(response.header("Sec-WebSocket-Location"), "ws://example.com/demo?room=1")

    def test_secureLocationWhenTold(self) -> None:
        """Behind a TLS-terminating proxy: C{secure=True}."""
        harness = Harness(secure=True)
        response = harness.connect().handshake(hixie76Request(), after=SAMPLE_KEY3)
        self.assertEqual(response.header("Sec-WebSocket-Location"), "wss://example.com/demo")
        response = harness.connect().handshake(hixie75Request())
        self.assertEqual(response.header("WebSocket-Location"), "wss://example.com/demo")

    def test_secureLocationOnTLS(self) -> None:
        harness = Harness()
        peer = harness.connect(transport=RecordingTLSTransport())
        response = peer.handshake(hixie76Request(), after=SAMPLE_KEY3)
        self.assertEqual(response.header("Sec-WebSocket-Location"), "wss://example.com/demo")
        peer = harness.connect(transport=RecordingTLSTransport())
        response = peer.handshake(hixie75Request())
        self.assertEqual(response.header("WebSocket-Location"), "wss://example.com/demo")

    def test_plainLocationOnTLSWhenToldNotSecure(self) -> None:
        harness = Harness(secure=False)
        peer = harness.connect(transport=RecordingTLSTransport())
        response = peer.handshake(hixie76Request(), after=SAMPLE_KEY3)
        self.assertEqual(response.header("Sec-WebSocket-Location"), "ws://example.com/demo")

    def test_hixie76SubprotocolEchoed(self) -> None:
        harness = Harness(subprotocols=["chat"])
        peer = harness.connect()
        response = peer.handshake(hixie76Request(protocol="chat"), after=SAMPLE_KEY3)
        self.assertEqual(response.header("Sec-WebSocket-Protocol"), "chat")
        self.assertEqual(peer.conn.subprotocol, "chat")


class RefusalTests(SynchronousTestCase):
    """
    Requests a server must refuse get their HTTP status, a log line, and a
    closed connection; the application never hears of them.
    """

    def setUp(self) -> None:
        self.log = LogCapture(self)

    def assertRefused(self, harness: Harness, request: bytes, status: int):
        peer = harness.connect()
        response = peer.handshake(request)
        self.assertEqual(response.status, status, response)
        self.assertTrue(peer.closed)
        self.assertEqual(harness.app.events, [])
        self.assertEqual(response.header("Connection"), "close")
        self.assertTrue(loggedLines(self.log, "Refused", str(status)), self.log.events)
        self.assertEqual(harness.layer.connections, frozenset())
        return response

    def test_unknownVersion(self) -> None:
        response = self.assertRefused(Harness(), hybiRequest(9), 426)
        self.assertEqual(response.header("Sec-WebSocket-Version"), "13, 8, 7")

    def test_nonNumericVersion(self) -> None:
        response = self.assertRefused(Harness(), hybiRequest("thirteen"), 426)  # type: ignore[arg-type]
        self.assertEqual(response.header("Sec-WebSocket-Version"), "13, 8, 7")

    def test_keyWithoutVersion(self) -> None:
        request = hybiRequest().replace(b"Sec-WebSocket-Version: 13\r\n", b"")
        response = self.assertRefused(Harness(), request, 426)
        self.assertEqual(response.header("Sec-WebSocket-Version"), "13, 8, 7")

    def test_garbage(self) -> None:
        self.assertRefused(Harness(), b"HELLO THERE\r\n\r\n", 400)

    def test_notGet(self) -> None:
        self.assertRefused(Harness(), hybiRequest().replace(b"GET", b"POST", 1), 400)

    def test_noUpgrade(self) -> None:
        request = hybiRequest().replace(b"Upgrade: websocket\r\n", b"")
        self.assertRefused(Harness(), request, 400)

    def test_plainHttpRequest(self) -> None:
        self.assertRefused(Harness(), b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 400)

    def test_badKey(self) -> None:
        self.assertRefused(Harness(), hybiRequest(key="too-short"), 400)

    def test_hixie76BadKey(self) -> None:
        request = hixie76Request(key1="no spaces 123".replace(" ", ""))
        self.assertRefused(Harness(), request, 400)

    def test_hixie76OneKeyMissing(self) -> None:
        request = hixie76Request().replace(b"Sec-WebSocket-Key2", b"X-Key2")
        self.assertRefused(Harness(), request, 400)

    def test_http10(self) -> None:
        self.assertRefused(Harness(), hybiRequest().replace(b"HTTP/1.1", b"HTTP/1.0"), 400)

    def test_headTooLarge(self) -> None:
        request = hybiRequest(extra=[f"X-Padding: {'a' * 2000}"])
        response = self.assertRefused(Harness(maxHandshakeSize=1024), request, 431)
        self.assertEqual(response.status, 431)

    def test_headSizeLimitIsExact(self) -> None:
        """A head of exactly C{maxHandshakeSize} bytes passes; one more does not."""
        base = hybiRequest()
        padding = 600 - len(base) - len("X-Pad: \r\n")
        request = hybiRequest(extra=[f"X-Pad: {'p' * padding}"])
        self.assertEqual(len(request), 600)
        self.assertEqual(Harness(maxHandshakeSize=600).connect().handshake(request).status, 101)
        response = Harness(maxHandshakeSize=599).connect().handshake(request)
        self.assertEqual(response.status, 431)

    def test_headTooLargeBeforeItEnds(self) -> None:
        """The limit holds while the head is still arriving: no endless buffer."""
        harness = Harness(maxHandshakeSize=1024)
        peer = harness.connect()
        peer.receive(b"GET / HTTP/1.1\r\nX-Padding: ")
        for _ in range(100):
            if peer.closed:
                break
            peer.receive(b"a" * 100)
        self.assertTrue(peer.closed)
        self.assertEqual(peer.response().status, 431)
        self.assertEqual(harness.app.events, [])

    def test_tooManyHeaders(self) -> None:
        request = hybiRequest(extra=[f"X-H{i}: v" for i in range(200)])
        self.assertRefused(Harness(maxHandshakeSize=64 * 1024), request, 431)

    def test_bytesAfterARefusalAreIgnored(self) -> None:
        """
        Bytes that arrive between the refusal and the end of the TCP
        connection (still flushing the answer) are ignored.
        """
        harness = Harness()
        peer = harness.connect(RecordingTransport(disconnectAtOnce=False))
        self.assertEqual(peer.handshake(hybiRequest(9)).status, 426)
        peer.receive(hybiRequest())
        peer.receive(textFrame("hello?"))
        self.assertEqual(peer.output(), b"")
        peer.transport.reportLost()
        self.assertEqual(harness.app.events, [])
        self.assertEqual(harness.clock.getDelayedCalls(), [])

    def test_otherConnectionsCarryOn(self) -> None:
        harness = Harness()
        good = harness.open()
        bad = harness.connect()
        bad.handshake(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")
        self.assertTrue(bad.closed)
        good.sendText("still here")
        self.assertEqual(good.frames(), ["still here"])
        late = harness.open()
        late.sendText("me too")
        self.assertEqual(late.frames(), ["me too"])


class DisabledVersionTests(SynchronousTestCase):
    """
    Every version can be switched off; its clients are then refused, with
    426 naming the versions still spoken for the HyBi ones.
    """

    def test_rfc6455Disabled(self) -> None:
        response = Harness(versions=without(V.RFC6455)).connect().handshake(hybiRequest(13))
        self.assertEqual(response.status, 426)
        self.assertEqual(response.header("Sec-WebSocket-Version"), "8, 7")

    def test_hybi10Disabled(self) -> None:
        harness = Harness(versions=without(V.HYBI_10))
        response = harness.connect().handshake(hybiRequest(8))
        self.assertEqual(response.status, 426)
        self.assertEqual(response.header("Sec-WebSocket-Version"), "13, 7")
        self.assertEqual(harness.open(hybiRequest(13)).conn.version, V.RFC6455)

    def test_hybi07Disabled(self) -> None:
        response = Harness(versions=without(V.HYBI_07)).connect().handshake(hybiRequest(7))
        self.assertEqual(response.status, 426)
        self.assertEqual(response.header("Sec-WebSocket-Version"), "13, 8")

    def test_hixie76Disabled(self) -> None:
        harness = Harness(versions=without(V.HIXIE_76))
        peer = harness.connect()
        response = peer.handshake(hixie76Request(), after=SAMPLE_KEY3)
        self.assertEqual(response.status, 400)
        self.assertTrue(peer.closed)
        self.assertEqual(harness.app.events, [])
        self.assertEqual(harness.openHixie75().conn.version, V.HIXIE_75)

    def test_hixie75Disabled(self) -> None:
        harness = Harness(versions=without(V.HIXIE_75))
        peer = harness.connect()
        self.assertEqual(peer.handshake(hixie75Request()).status, 400)
        self.assertTrue(peer.closed)
        self.assertEqual(harness.openHixie76().conn.version, V.HIXIE_76)

    def test_onlyRfc6455(self) -> None:
        harness = Harness(versions=[V.RFC6455])
        for request in (hybiRequest(8), hybiRequest(7)):
            response = harness.connect().handshake(request)
            self.assertEqual(response.status, 426)
            self.assertEqual(response.header("Sec-WebSocket-Version"), "13")
        self.assertEqual(harness.connect().handshake(hixie75Request()).status, 400)
        self.assertEqual(harness.connect().handshake(hixie76Request(), SAMPLE_KEY3).status, 400)
        self.assertEqual(harness.open().conn.version, V.RFC6455)

    def test_noHybiVersionLeft(self) -> None:
        """With only the Hixie drafts on, a HyBi client cannot upgrade: 400."""
        harness = Harness(versions=[V.HIXIE_76, V.HIXIE_75])
        self.assertEqual(harness.connect().handshake(hybiRequest(13)).status, 400)

    def test_settingsObject(self) -> None:
        settings = Settings.build(versions=[V.RFC6455, V.HIXIE_76])
        harness = Harness(settings=settings)
        self.assertEqual(harness.connect().handshake(hybiRequest(8)).status, 426)
        self.assertEqual(harness.openHixie76().conn.version, V.HIXIE_76)


class SubprotocolTests(SynchronousTestCase):
    def test_appSubprotocolsChosen(self) -> None:
        app = RecordingApplication()
        app.subprotocols = ("chat.v2", "chat.v1")  # type: ignore[attr-defined]
        harness = Harness(app)
        peer = harness.connect()
        response = peer.handshake(hybiRequest(subprotocols=["other", "chat.v1"]))
        self.assertEqual(response.status, 101)
        self.assertEqual(response.header("Sec-WebSocket-Protocol"), "chat.v1")
        self.assertEqual(peer.conn.subprotocol, "chat.v1")

    def test_firstOfferedThatWeSpeak(self) -> None:
        harness = Harness(subprotocols=["a", "b"])
        peer = harness.open(hybiRequest(subprotocols=["b", "a"]))
        self.assertEqual(peer.conn.subprotocol, "b")

    def test_noneInCommon(self) -> None:
        harness = Harness(subprotocols=["a"])
        peer = harness.connect()
        response = peer.handshake(hybiRequest(subprotocols=["x", "y"]))
        self.assertEqual(response.status, 101)
        self.assertIsNone(response.header("Sec-WebSocket-Protocol"))
        self.assertIsNone(peer.conn.subprotocol)

    def test_noneOffered(self) -> None:
        peer = Harness(subprotocols=["a"]).open()
        self.assertIsNone(peer.conn.subprotocol)


class OriginTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.log = LogCapture(self)
        self.harness = Harness(origins=["https://good.example"])

    def test_allowed(self) -> None:
        peer = self.harness.open(hybiRequest(origin="https://good.example"))
        self.assertEqual(peer.conn.origin, "https://good.example")

    def test_caseInsensitive(self) -> None:
        self.harness.open(hybiRequest(origin="HTTPS://GOOD.example"))

    def test_refused(self) -> None:
        peer = self.harness.connect()
        response = peer.handshake(hybiRequest(origin="https://evil.example"))
        self.assertEqual(response.status, 403)
        self.assertTrue(peer.closed)
        self.assertEqual(self.harness.app.events, [])
        self.assertTrue(loggedLines(self.log, "403"))

    def test_refusedForEveryVersion(self) -> None:
        requests = [
            hybiRequest(13, origin="https://evil.example"),
            hybiRequest(8, origin="https://evil.example"),
            hybiRequest(7, origin="https://evil.example"),
            hixie76Request(origin="https://evil.example") + SAMPLE_KEY3,
            hixie75Request(origin="https://evil.example"),
        ]
        for request in requests:
            self.assertEqual(self.harness.connect().handshake(request).status, 403, request)

    def test_hybi10OriginChecked(self) -> None:
        """HyBi-10 browsers declare their origin in C{Sec-WebSocket-Origin}."""
        self.harness.open(hybiRequest(8, origin="https://good.example"))

    def test_noOriginAccepted(self) -> None:
        self.harness.open(hybiRequest())

    def test_noOriginRefusedWhenRequired(self) -> None:
        harness = Harness(origins=["https://good.example"], requireOrigin=True)
        self.assertEqual(harness.connect().handshake(hybiRequest()).status, 403)
        harness.open(hybiRequest(origin="https://good.example"))


class HandshakeHookTests(SynchronousTestCase):
    """
    C{onHandshake} sees the request before the connection opens, and may
    refuse it with an HTTP status, now or later.
    """

    def setUp(self) -> None:
        self.log = LogCapture(self)
        self.seen: list[WebSocketConnection] = []

    def harnessWith(self, verdict) -> Harness:
        def hook(conn: WebSocketConnection):
            self.seen.append(conn)
            return verdict(conn) if callable(verdict) else verdict

        return Harness(onHandshake=hook)

    def test_hookSeesTheRequest(self) -> None:
        harness = self.harnessWith(None)
        harness.open(
            hybiRequest(path="/room/1?user=ann", extra=["Cookie: session=abc; theme=dark"])
        )
        [conn] = self.seen
        self.assertEqual(conn.path, "/room/1")
        self.assertEqual(conn.query, "user=ann")
        self.assertEqual(conn.cookies, {"session": "abc", "theme": "dark"})
        self.assertEqual(harness.app.callbacks(), ["onOpen"])

    def test_refusedByRaising(self) -> None:
        def refuse(conn):
            raise HandshakeError(401, "who are you?")

        harness = self.harnessWith(refuse)
        peer = harness.connect()
        response = peer.handshake()
        self.assertEqual(response.status, 401)
        self.assertIn(b"who are you?", response.body)
        self.assertTrue(peer.closed)
        self.assertEqual(harness.app.events, [])
        self.assertTrue(loggedLines(self.log, "401"))

    def test_refusedByAFailedDeferred(self) -> None:
        harness = self.harnessWith(lambda conn: fail(HandshakeError(403, "banned")))
        peer = harness.connect()
        self.assertEqual(peer.handshake().status, 403)
        self.assertTrue(peer.closed)
        self.assertEqual(harness.app.events, [])

    def test_refusedLater(self) -> None:
        pending: Deferred[None] = Deferred()
        harness = self.harnessWith(pending)
        peer = harness.connect()
        peer.receive(hybiRequest())
        self.assertEqual(peer.output(), b"")
        self.assertIs(peer.conn.phase, State.HANDSHAKE)
        pending.errback(HandshakeError(401, "token expired"))
        self.assertEqual(peer.response().status, 401)
        self.assertTrue(peer.closed)
        self.assertEqual(harness.app.events, [])

    def test_hookExceptionIs500(self) -> None:
        harness = self.harnessWith(lambda conn: 1 / 0)
        peer = harness.connect()
        self.assertEqual(peer.handshake().status, 500)
        self.assertTrue(peer.closed)
        self.assertEqual(harness.app.events, [])
        self.assertTrue(self.log.failuresOf(ZeroDivisionError))
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_hookDeferredFailureIs500(self) -> None:
        harness = self.harnessWith(lambda conn: fail(KeyError("db")))
        peer = harness.connect()
        self.assertEqual(peer.handshake().status, 500)
        self.assertTrue(self.log.failuresOf(KeyError))
        self.assertEqual(len(self.flushLoggedErrors(KeyError)), 1)

    def test_acceptedLaterFramesNotLost(self) -> None:
        """
        Frames a client sends while the hook is still deciding wait for it,
        and reach the application, in order, once the connection opens.
        """
        pending: Deferred[None] = Deferred()
        harness = self.harnessWith(pending)
        peer = harness.connect()
        peer.receive(hybiRequest(), chunkSize=7)
        peer.receive(textFrame("one") + textFrame("two"))
        peer.sendText("three")
        self.assertEqual(peer.output(), b"")
        self.assertEqual(harness.app.events, [])
        pending.callback(None)
        response = peer.response()
        self.assertEqual(response.status, 101)
        self.assertEqual(harness.app.callbacks(), ["onOpen"] + ["onMessage"] * 3)
        self.assertEqual([e[2] for e in harness.app.events[1:]], ["one", "two", "three"])

    def test_acceptedLaterHixie76(self) -> None:
        pending: Deferred[None] = Deferred()
        harness = self.harnessWith(pending)
        peer = harness.connect()
        peer.receive(hixie76Request() + SAMPLE_KEY3[:3])
        peer.receive(SAMPLE_KEY3[3:] + hixieText("hi"))
        self.assertEqual(peer.output(), b"")
        pending.callback(None)
        response = peer.response()
        self.assertEqual(response.body, SAMPLE_ANSWER + hixieText("hi"))

    def test_clientGoneBeforeTheVerdict(self) -> None:
        pending: Deferred[None] = Deferred()
        harness = self.harnessWith(pending)
        peer = harness.connect()
        peer.receive(hybiRequest())
        peer.transport.loseConnection()
        pending.callback(None)
        self.assertEqual(peer.output(), b"")
        self.assertEqual(harness.app.events, [])

    def test_coroutineHookRefuses(self) -> None:
        """
        An C{async def} hook (the design lets every callback be a coroutine)
        that refuses must refuse: an authentication check written this way
        must not let everyone in.
        """

        async def hook(conn):
            raise HandshakeError(401, "who are you?")

        harness = Harness(onHandshake=hook)
        peer = harness.connect()
        self.assertEqual(peer.handshake().status, 401)
        self.assertEqual(harness.app.events, [])

    def test_coroutineHookAcceptsLater(self) -> None:
        gate: Deferred[None] = Deferred()

        async def hook(conn):
            await gate

        harness = Harness(onHandshake=hook)
        peer = harness.connect()
        peer.receive(hybiRequest() + textFrame("waiting"))
        self.assertEqual(peer.output(), b"")
        gate.callback(None)
        self.assertEqual(peer.response().status, 101)
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onMessage"])

    def test_appMethodIsTheDefaultHook(self) -> None:
        app = RecordingApplication()

        def onHandshake(conn):
            raise HandshakeError(418, "teapot")

        app.onHandshake = onHandshake  # type: ignore[attr-defined]
        harness = Harness(app)
        self.assertEqual(harness.connect().handshake().status, 418)


class ConnectionAttributeTests(SynchronousTestCase):
    """What the handshake told us, on the connection the application gets."""

    def test_rfc6455(self) -> None:
        harness = Harness(subprotocols=["chat"])
        peer = harness.open(
            hybiRequest(
                13,
                path="/rooms/42?nick=ann&x=%20",
                origin="https://site.example",
                subprotocols=["chat"],
                extra=['Cookie: sid=s3cr3t; theme="dark"', "X-Custom: yes"],
            )
        )
        conn = peer.conn
        self.assertIs(conn.version, V.RFC6455)
        self.assertEqual(conn.path, "/rooms/42")
        self.assertEqual(conn.query, "nick=ann&x=%20")
        self.assertEqual(conn.headers.get("x-custom"), "yes")
        self.assertEqual(conn.headers.get("HOST"), "server.example.com")
        self.assertEqual(conn.cookies, {"sid": "s3cr3t", "theme": "dark"})
        self.assertEqual(conn.subprotocol, "chat")
        self.assertEqual(conn.origin, "https://site.example")
        self.assertEqual(conn.remoteAddress, peer.transport.getPeer())
        self.assertEqual(conn.remoteAddress.host, "192.0.2.7")

    def test_hixie76(self) -> None:
        harness = Harness()
        peer = harness.connect()
        peer.handshake(
            hixie76Request("/demo?a=b", extra=["Cookie: u=1"]), after=SAMPLE_KEY3
        )
        conn = peer.conn
        self.assertIs(conn.version, V.HIXIE_76)
        self.assertEqual((conn.path, conn.query), ("/demo", "a=b"))
        self.assertEqual(conn.cookies, {"u": "1"})
        self.assertEqual(conn.origin, "http://example.com")
        self.assertIsNone(conn.subprotocol)

    def test_stateIsShared(self) -> None:
        """The application's per-connection state lives on every view."""
        harness = Harness()
        peer = harness.open()
        peer.conn.state.nick = "ann"
        self.assertEqual(peer.proto.connection.state.nick, "ann")

    def test_beforeTheHandshake(self) -> None:
        peer = Harness().connect()
        conn = peer.conn
        self.assertIsNone(conn.version)
        self.assertEqual((conn.path, conn.query, conn.cookies), ("", "", {}))
        self.assertIsNone(conn.headers)
        self.assertIsNone(conn.origin)
        self.assertIs(conn.phase, State.CONNECTING)


class HookChoosesBadSubprotocolTests(SynchronousTestCase):
    def test_subprotocolNotOfferedIsAServerError(self) -> None:
        """
        A hook that picks a sub-protocol the client did not offer gets the
        client a 500 at once, and the failure is logged.
        """

        def hook(conn):
            conn.subprotocol = "never-offered"

        harness = Harness(onHandshake=hook)
        peer = harness.connect()
        response = peer.handshake(hybiRequest(subprotocols=["chat"]))
        self.assertEqual(response.status, 500)
        self.assertTrue(peer.closed)
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)


class IdleConnectionTests(SynchronousTestCase):
    """
    An open connection keeps the bytes of its request head, not the parsed
    request, and has no frame decoder until frames arrive: what an idle
    connection costs.  Nothing of this shows to the application.
    """

    REQUEST = hybiRequest(
        13,
        path="/room/1?user=ann",
        origin="https://a.example",
        extra=["Cookie: session=abc; theme=dark", "X-Custom: one", "x-custom: two"],
    )

    def test_onOpenSeesTheRequestParsedOnce(self) -> None:
        seen = []
        app = RecordingApplication(onOpen=lambda conn: seen.append(conn.opening))
        harness = Harness(app, onHandshake=lambda conn: seen.append(conn.opening))
        harness.open(self.REQUEST)
        self.assertEqual(len(seen), 2)
        self.assertIs(seen[0], seen[1])

    def test_requestReadAgainWhenAskedLater(self) -> None:
        harness = Harness()
        peer = harness.open(self.REQUEST)
        conn = peer.conn
        self.assertIsNone(conn.protocol._opening)
        self.assertEqual(conn.path, "/room/1")
        self.assertEqual(conn.query, "user=ann")
        self.assertEqual(conn.origin, "https://a.example")
        self.assertEqual(conn.cookies, {"session": "abc", "theme": "dark"})
        self.assertEqual(conn.headers.getAll("X-Custom"), ["one", "two"])
        self.assertIs(conn.version, V.RFC6455)
        self.assertIs(conn.opening, conn.opening)
        self.assertEqual(conn.request.target, "/room/1?user=ann")

    def test_hixieRequestReadAgain(self) -> None:
        harness = Harness()
        peer = harness.openHixie76()
        conn = peer.conn
        self.assertIsNone(conn.protocol._opening)
        self.assertIs(conn.version, V.HIXIE_76)
        self.assertIs(conn.opening.version, V.HIXIE_76)
        self.assertEqual(conn.opening.key3Length, 8)

    def test_decoderMadeByTheFirstFrame(self) -> None:
        harness = Harness()
        peer = harness.open()
        self.assertIsNone(peer.conn.protocol._decoder)
        peer.receive(textFrame("hello"))
        self.assertIsNotNone(peer.conn.protocol._decoder)
        self.assertEqual([e[2] for e in harness.app.events if e[0] == "onMessage"], ["hello"])
