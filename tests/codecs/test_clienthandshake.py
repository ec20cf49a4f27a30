"""
Tests for L{ratchet_tx.websocket.codecs.clienthandshake}: the client's side
of every version's opening handshake, against the specs' examples, against
this package's server codecs and against the C{websockets} library.
"""

from __future__ import annotations

import base64
import random
from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame
from websockets.frames import Opcode as WsOpcode
from websockets.http11 import Request as WsRequest
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.streams import StreamReader
from websockets.uri import parse_uri

from ratchet_tx.websocket.codecs import hixie, hybi
from ratchet_tx.websocket.codecs.clienthandshake import (
    Accepted,
    ClientHandshake,
    WebSocketURL,
    newKey,
    parseURL,
)
from ratchet_tx.websocket.codecs.deflate import DeflatePolicy, negotiate, parseExtensions
from ratchet_tx.websocket.codecs.errors import (
    HandshakeError,
    HandshakeFailed,
    HandshakeRefused,
    InvalidHandshakeResponse,
)
from ratchet_tx.websocket.codecs.handshake import (
    WebSocketVersion,
    acceptKey,
    readOpening,
    renderAccept,
)
from ratchet_tx.websocket.codecs.hixie import Challenge
from ratchet_tx.websocket.codecs.http import (
    Headers,
    Request,
    RequestReader,
    Response,
    ResponseReader,
    renderRejection,
    renderResponse,
)
from tests.codecs.test_handshake import CHROME4_REQUEST, SAFARI5_KEY3, SAFARI5_REQUEST

#: The handshake size limit given to readers where the test needs no other.
HEAD_LIMIT = 16384

#: The message limit given to decoders where the test needs no other.
LIMIT = 16 * 2**20

RFC6455 = WebSocketVersion.RFC6455
HYBI_10 = WebSocketVersion.HYBI_10
HYBI_07 = WebSocketVersion.HYBI_07
HIXIE_76 = WebSocketVersion.HIXIE_76
HIXIE_75 = WebSocketVersion.HIXIE_75

# RFC 6455 section 1.3: the client's handshake and the server's answer.
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)
RFC_RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"Sec-WebSocket-Protocol: chat\r\n"
    b"\r\n"
)

# draft-hixie-thewebsocketprotocol-76 section 1.3, in Safari 5's field order.
DRAFT76_CHALLENGE = Challenge("4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00", b"^n:ds[4U")
DRAFT76_REQUEST = SAFARI5_REQUEST + SAFARI5_KEY3
DRAFT76_RESPONSE = (
    b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
    b"Upgrade: WebSocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Origin: http://example.com\r\n"
    b"Sec-WebSocket-Location: ws://example.com/demo\r\n"
    b"Sec-WebSocket-Protocol: sample\r\n"
    b"\r\n"
    b"8jKS'y:G*Co,Wxa-"
)

# draft-hixie-thewebsocketprotocol-75 section 1.2 (as Chrome 4 sent it).
DRAFT75_REQUEST = CHROME4_REQUEST
DRAFT75_RESPONSE = (
    b"HTTP/1.1 101 Web Socket Protocol Handshake\r\n"
    b"Upgrade: WebSocket\r\n"
    b"Connection: Upgrade\r\n"
    b"WebSocket-Origin: http://example.com\r\n"
    b"WebSocket-Location: ws://example.com/demo\r\n"
    b"WebSocket-Protocol: sample\r\n"
    b"\r\n"
)

FIRST_HYBI_FRAME = b"\x81\x05Hello"
FIRST_HIXIE_FRAME = b"\x00Hello\xff"

#: Every version, newest first.
VERSIONS = [RFC6455, HYBI_10, HYBI_07, HIXIE_76, HIXIE_75]


def rfcExample() -> ClientHandshake:
    return ClientHandshake(
        url=parseURL("ws://server.example.com/chat"),
        key=RFC_KEY,
        subprotocols=("chat", "superchat"),
        origin="http://example.com",
    )


def draft76Example() -> ClientHandshake:
    return ClientHandshake(
        url=parseURL("ws://example.com/demo"),
        version=HIXIE_76,
        challenge=DRAFT76_CHALLENGE,
        subprotocols=("sample",),
        origin="http://example.com",
    )


def draft75Example() -> ClientHandshake:
    return ClientHandshake(
        url=parseURL("ws://example.com/demo"),
        version=HIXIE_75,
        subprotocols=("sample",),
        origin="http://example.com",
    )


def readInChunks(
    data: bytes, size: int, switchBodySize: int = 0, **limits: int
) -> tuple[Response, bytes]:
    """
    Feed C{data} to a new L{ResponseReader} C{size} bytes at a time.

    @return: the response and every byte after it.
    """
    reader = ResponseReader(maxHandshakeSize=HEAD_LIMIT, switchBodySize=switchBodySize, **limits)
    for start in range(0, len(data), size):
        response = reader.feed(data[start : start + size])
        if response is not None:
            return response, reader.remainder + data[start + size :]
    return reader.end(), b""


def responseTo(handshake: ClientHandshake, data: bytes) -> Response:
    response, _ = readInChunks(data, len(data), handshake.switchBodySize)
    return response


def serverRequest(data: bytes) -> tuple[Request, bytes]:
    """
    What the server's L{RequestReader} reads of a client's request.
    """
    reader = RequestReader(maxHandshakeSize=HEAD_LIMIT)
    request = reader.feed(data)
    assert request is not None
    return request, reader.remainder


class URLTests(SynchronousTestCase):
    """
    L{parseURL} takes a WebSocket URL apart.
    """

    def test_plain(self) -> None:
        self.assertEqual(
            parseURL("ws://Example.COM/chat?room=1&x=%20"),
            WebSocketURL(secure=False, host="example.com", port=80, resource="/chat?room=1&x=%20"),
        )

    def test_defaults(self) -> None:
        self.assertEqual(parseURL("wss://example.com"), WebSocketURL(True, "example.com", 443, "/"))
        self.assertEqual(parseURL("ws://example.com?q").resource, "/?q")

    def test_hostHeader(self) -> None:
        """
        The port is named only when it is not the scheme's default.
        """
        cases = {
            "ws://a.example": "a.example",
            "ws://a.example:80": "a.example",
            "ws://a.example:443": "a.example:443",
            "wss://a.example:443": "a.example",
            "wss://a.example:80": "a.example:80",
            "ws://127.0.0.1:8080": "127.0.0.1:8080",
            "ws://[::1]:8080/": "[::1]:8080",
            "wss://[2001:DB8::1]/": "[2001:db8::1]",
        }
        for url, host in cases.items():
            self.assertEqual(parseURL(url).hostHeader, host, url)

    def test_str(self) -> None:
        """
        C{str} gives the URL as a Hixie server echoes it.
        """
        self.assertEqual(str(parseURL("WS://Example.com:80/a?b")), "ws://example.com/a?b")
        self.assertEqual(str(parseURL("wss://[::1]:8443")), "wss://[::1]:8443/")

    def test_escaping(self) -> None:
        """
        What is not visible ASCII is percent-encoded as UTF-8; what is, is
        left as written.
        """
        self.assertEqual(
            parseURL("ws://h/caf\u00e9 x?q=\u00e9").resource, "/caf%C3%A9%20x?q=%C3%A9"
        )
        self.assertEqual(parseURL("ws://h/a%2Fb;c=[d]").resource, "/a%2Fb;c=[d]")

    def test_idna(self) -> None:
        self.assertEqual(parseURL("ws://b\u00fccher.example/").host, "xn--bcher-kva.example")

    def test_refused(self) -> None:
        for url in [
            "http://example.com/",
            "example.com",
            "ws:///path",
            "ws://example.com/#fragment",
            "ws://user:secret@example.com/",
            "ws://example.com:99999/",
            "ws://example.com:port/",
        ]:
            self.assertRaises(ValueError, parseURL, url)


class RequestTests(SynchronousTestCase):
    """
    L{ClientHandshake.render} writes each version's request.
    """

    def test_rfcExample(self) -> None:
        """
        RFC 6455 section 1.3's request, byte for byte.
        """
        self.assertEqual(rfcExample().render(), RFC_REQUEST)

    def test_draft76Example(self) -> None:
        """
        Draft 76 section 1.3's request, key3 after the head.
        """
        self.assertEqual(draft76Example().render(), DRAFT76_REQUEST)

    def test_draft75Example(self) -> None:
        self.assertEqual(draft75Example().render(), DRAFT75_REQUEST)

    def test_hybiOrigin(self) -> None:
        """
        The HyBi drafts' browsers sent C{Sec-WebSocket-Origin}, with their
        own version numbers.
        """
        for version, number in [(HYBI_10, "8"), (HYBI_07, "7")]:
            handshake = ClientHandshake(
                url=parseURL("ws://h/"), version=version, key=RFC_KEY, origin="http://o"
            )
            headers, _ = serverRequest(handshake.render())
            self.assertEqual(headers.headers.get("sec-websocket-origin"), "http://o")
            self.assertNotIn("origin", headers.headers)
            self.assertEqual(headers.headers.get("sec-websocket-version"), number)

    def test_hixieOriginLowercased(self) -> None:
        """
        Draft 76 section 4.1: the origin in lower case.
        """
        handshake = ClientHandshake.new("ws://h/", version=HIXIE_76, origin="http://Example.COM")
        request, _ = serverRequest(handshake.render())
        self.assertEqual(request.headers.get("origin"), "http://example.com")

    def test_noOrigin(self) -> None:
        for version in VERSIONS:
            request, _ = serverRequest(ClientHandshake.new("ws://h/", version=version).render())
            for name in ("origin", "sec-websocket-origin"):
                self.assertNotIn(name, request.headers)

    def test_extraHeaders(self) -> None:
        handshake = ClientHandshake.new(
            "ws://h/", headers={"Cookie": "a=1", "Authorization": "Bearer x"}
        )
        request, _ = serverRequest(handshake.render())
        self.assertEqual(
            request.headers.items()[-2:], [("Cookie", "a=1"), ("Authorization", "Bearer x")]
        )

    def test_managedHeadersRefused(self) -> None:
        for name in ("Host", "origin", "Sec-WebSocket-Key", "Sec-WebSocket-Protocol", "Upgrade"):
            self.assertRaises(ValueError, ClientHandshake.new, "ws://h/", headers=[(name, "x")])

    def test_headerInjectionRefused(self) -> None:
        handshake = ClientHandshake.new("ws://h/", headers=[("X", "a\r\nHost: evil")])
        self.assertRaises(ValueError, handshake.render)

    def test_deflateOffer(self) -> None:
        """
        permessage-deflate is offered to RFC 6455 and HyBi servers, never to
        Hixie ones.
        """
        policy = DeflatePolicy(serverNoContextTakeover=True)
        for version in VERSIONS:
            handshake = ClientHandshake.new("ws://h/", version=version, deflate=policy)
            request, _ = serverRequest(handshake.render())
            offer = request.headers.get("sec-websocket-extensions")
            if version.isHixie:
                self.assertIsNone(offer)
                self.assertIsNone(handshake.deflate)
            else:
                self.assertEqual(
                    offer, "permessage-deflate; server_no_context_takeover; client_max_window_bits"
                )
        disabled = ClientHandshake.new("ws://h/", deflate=DeflatePolicy(enabled=False))
        self.assertNotIn(b"Extensions", disabled.render())

    def test_subprotocols(self) -> None:
        self.assertRaises(ValueError, ClientHandshake.new, "ws://h/", subprotocols=["a b"])
        self.assertRaises(ValueError, ClientHandshake.new, "ws://h/", subprotocols=["a,b"])
        self.assertRaises(ValueError, ClientHandshake.new, "ws://h/", subprotocols=["a", "a"])
        self.assertRaises(
            ValueError, ClientHandshake.new, "ws://h/", version=HIXIE_76, subprotocols=["a", "b"]
        )
        # A Hixie protocol is any printable text.
        handshake = ClientHandshake.new("ws://h/", version=HIXIE_75, subprotocols=["my chat"])
        request, _ = serverRequest(handshake.render())
        self.assertEqual(request.headers.get("websocket-protocol"), "my chat")

    def test_keysChecked(self) -> None:
        url = parseURL("ws://h/")
        for key in (None, "short", base64.b64encode(b"x" * 15).decode()):
            self.assertRaises(ValueError, ClientHandshake, url, key=key)
        self.assertRaises(
            ValueError, ClientHandshake, url, key=RFC_KEY, challenge=DRAFT76_CHALLENGE
        )
        self.assertRaises(ValueError, ClientHandshake, url, version=HIXIE_76)
        self.assertRaises(ValueError, ClientHandshake, url, version=HIXIE_76, key=RFC_KEY)
        self.assertRaises(
            ValueError, ClientHandshake, url, version=HIXIE_75, challenge=DRAFT76_CHALLENGE
        )
        bad = Challenge("no spaces 1", "1 1", b"12345678".replace(b" ", b""))
        self.assertRaises(ValueError, ClientHandshake, url, version=HIXIE_76, challenge=bad)

    def test_freshKeys(self) -> None:
        """
        L{ClientHandshake.new} draws a new 16-byte nonce, or a new Hixie-76
        challenge, each time.
        """
        keys = {ClientHandshake.new("ws://h/").key for _ in range(20)}
        self.assertEqual(len(keys), 20)
        for key in keys:
            assert key is not None
            self.assertEqual(len(base64.b64decode(key, validate=True)), 16)
        challenges = {ClientHandshake.new("ws://h/", version=HIXIE_76).challenge for _ in range(20)}
        self.assertEqual(len(challenges), 20)

    def test_seeded(self) -> None:
        """
        A test may give its own source of randomness.
        """
        first = ClientHandshake.new("ws://h/", version=HIXIE_76, rng=random.Random(3))
        second = ClientHandshake.new("ws://h/", version=HIXIE_76, rng=random.Random(3))
        self.assertEqual(first.render(), second.render())
        self.assertEqual(newKey(random.Random(3)), newKey(random.Random(3)))

    def test_switchBodySize(self) -> None:
        self.assertEqual(
            [ClientHandshake.new("ws://h/", version=v).switchBodySize for v in VERSIONS],
            [0, 0, 0, 16, 0],
        )


class ExampleResponseTests(SynchronousTestCase):
    """
    The specs' example answers are accepted, read in every chunking.
    """

    def assertAccepts(self, handshake: ClientHandshake, data: bytes, frame: bytes) -> Accepted:
        results = set()
        for size in range(1, len(data + frame) + 1):
            response, rest = readInChunks(data + frame, size, handshake.switchBodySize)
            self.assertEqual(rest, frame, f"size {size}")
            results.add(handshake.validate(response))
        self.assertEqual(len(results), 1)
        return results.pop()

    def test_rfcExample(self) -> None:
        accepted = self.assertAccepts(rfcExample(), RFC_RESPONSE, FIRST_HYBI_FRAME)
        self.assertEqual(accepted.version, RFC6455)
        self.assertEqual(accepted.subprotocol, "chat")
        self.assertIsNone(accepted.extensions)
        self.assertIsNone(accepted.deflate)

    def test_draft76Example(self) -> None:
        accepted = self.assertAccepts(draft76Example(), DRAFT76_RESPONSE, FIRST_HIXIE_FRAME)
        self.assertEqual(accepted.subprotocol, "sample")
        self.assertEqual(accepted.response.body, b"8jKS'y:G*Co,Wxa-")

    def test_draft75Example(self) -> None:
        accepted = self.assertAccepts(draft75Example(), DRAFT75_RESPONSE, FIRST_HIXIE_FRAME)
        self.assertEqual(accepted.subprotocol, "sample")

    def test_headersKept(self) -> None:
        response = RFC_RESPONSE.replace(b"\r\n\r\n", b"\r\nSet-Cookie: a=1\r\n\r\n")
        accepted = rfcExample().validate(responseTo(rfcExample(), response))
        self.assertEqual(accepted.response.headers.get("set-cookie"), "a=1")


class RoundTripTests(SynchronousTestCase):
    """
    Our client against our server codecs: request, L{RequestReader},
    L{readOpening}, L{renderAccept}, L{ResponseReader},
    L{ClientHandshake.validate}, then a message each way.
    """

    def handshake(
        self,
        version: WebSocketVersion,
        subprotocols: tuple[str, ...],
        clientDeflate: DeflatePolicy | None,
        serverDeflate: DeflatePolicy,
        chunkSize: int | None = None,
    ) -> tuple[ClientHandshake, Accepted, object]:
        """
        Run one handshake through the server codecs.

        @return: the client's handshake, what it accepted, and the server's
            permessage-deflate (or C{None}).
        """
        client = ClientHandshake.new(
            "ws://127.0.0.1:8080/chat?room=1",
            version=version,
            subprotocols=subprotocols,
            origin="http://127.0.0.1:8080",
            headers=[("Cookie", "session=abc")],
            deflate=clientDeflate,
        )
        request, key3 = serverRequest(client.render())
        opening = readOpening(request)
        self.assertEqual(opening.version, version)
        self.assertEqual(opening.subprotocols, subprotocols)
        self.assertEqual(opening.origin, "http://127.0.0.1:8080")
        self.assertEqual(request.cookies, {"session": "abc"})
        self.assertEqual((request.path, request.query), ("/chat", "room=1"))
        extensions = serverSide = None
        if opening.extensions:
            agreed = negotiate(parseExtensions(opening.extensions), serverDeflate)
            if agreed is not None:
                extensions, serverSide = agreed
        chosen = subprotocols[-1] if subprotocols else None
        answer = renderAccept(opening, subprotocol=chosen, key3=key3, extensions=extensions)
        frame = FIRST_HIXIE_FRAME if version.isHixie else FIRST_HYBI_FRAME
        data = answer + frame
        sizes = [chunkSize] if chunkSize else range(1, len(data) + 1)
        results = set()
        for size in sizes:
            response, rest = readInChunks(data, size, client.switchBodySize)
            self.assertEqual(rest, frame)
            accepted = client.validate(response)
            results.add((accepted.version, accepted.subprotocol, accepted.extensions))
        self.assertEqual(results, {(version, chosen, extensions)})
        return client, accepted, serverSide

    def test_everyVersion(self) -> None:
        """
        Every version, with and without sub-protocols, with and without
        deflate offered, each response in every chunk size.
        """
        for version, subprotocols, deflate in product(
            VERSIONS, [(), ("chat",), ("chat", "superchat")], [None, DeflatePolicy()]
        ):
            if version.isHixie and len(subprotocols) > 1:
                continue
            _, accepted, _ = self.handshake(version, subprotocols, deflate, DeflatePolicy())
            self.assertEqual(accepted.deflate is None, deflate is None or version.isHixie)

    def test_messagesBothWays(self) -> None:
        """
        After the handshake, masked client frames reach the server decoder
        and server frames the client decoder, compressed where agreed.
        """
        messages = ["Hello", "κόσμε " * 50, "x" * 70000]
        keys = hybi.MaskKeys()
        for version in VERSIONS:
            _, accepted, serverSide = self.handshake(
                version, (), DeflatePolicy(minSize=0), DeflatePolicy(), chunkSize=7
            )
            if version.isHixie:
                up = b"".join(hixie.encodeText(m) for m in messages)
                self.assertEqual(hixie.HixieDecoder(maxMessageSize=LIMIT).feed(up), messages)
                down = hixie.encodeText("back") + hixie.CLOSE_FRAME
                self.assertEqual(hixie.HixieDecoder(maxMessageSize=LIMIT).feed(down)[0], "back")
                continue
            assert accepted.deflate is not None
            up = b"".join(
                hybi.encodeMaskedMessage(m, accepted.deflate, key=keys.next()) for m in messages
            )
            serverDecoder = hybi.FrameDecoder(maxMessageSize=LIMIT, deflate=serverSide)  # type: ignore[arg-type]
            self.assertEqual(serverDecoder.feed(up), messages)
            down = b"".join(hybi.encodeMessage(m, serverSide) for m in messages)  # type: ignore[arg-type]
            clientDecoder = hybi.FrameDecoder(
                maxMessageSize=LIMIT, expectMasked=False, deflate=accepted.deflate
            )
            self.assertEqual(clientDecoder.feed(down), messages)

    @settings(deadline=None, max_examples=40)
    @given(
        st.sampled_from(VERSIONS),
        st.lists(st.from_regex(r"[a-z0-9.]{1,8}", fullmatch=True), max_size=3, unique=True),
        st.booleans(),
        st.integers(1, 64),
    )
    def test_property(
        self, version: WebSocketVersion, subprotocols: list[str], deflate: bool, size: int
    ) -> None:
        if version.isHixie:
            subprotocols = subprotocols[:1]
        policy = DeflatePolicy(serverNoContextTakeover=True) if deflate else None
        self.handshake(version, tuple(subprotocols), policy, DeflatePolicy(), chunkSize=size)

    def test_serverDeclinesDeflate(self) -> None:
        _, accepted, _ = self.handshake(
            RFC6455, (), DeflatePolicy(), DeflatePolicy(enabled=False), chunkSize=1
        )
        self.assertIsNone(accepted.deflate)

    def test_serverRefuses(self) -> None:
        """
        A refusal rendered by the server codecs is L{HandshakeRefused}, with
        its status, headers and body.
        """
        client = ClientHandshake.new("ws://h/", version=HYBI_07)
        request, _ = serverRequest(client.render())
        error = self.assertRaises(HandshakeError, readOpening, request, frozenset({RFC6455}))
        data = renderRejection(error)
        for size in range(1, len(data) + 1):
            response, _ = readInChunks(data, size)
            refused = self.assertRaises(HandshakeRefused, client.validate, response)
            self.assertEqual(refused.status, 426)
            self.assertEqual(refused.reason, "Upgrade Required")
            self.assertEqual(refused.headers.get("sec-websocket-version"), "13")
            self.assertEqual(
                refused.body, b"unsupported WebSocket version 7; supported versions: 13\n"
            )


class BadResponseTests(SynchronousTestCase):
    """
    Every way a server's answer can fail the handshake gives the named
    error, with the response attached.
    """

    def assertInvalid(
        self, handshake: ClientHandshake, data: bytes, reason: str
    ) -> InvalidHandshakeResponse:
        response = responseTo(handshake, data)
        error = self.assertRaises(InvalidHandshakeResponse, handshake.validate, response)
        self.assertIn(reason, error.reason)
        self.assertIs(error.response, response)
        self.assertIsInstance(error, HandshakeFailed)
        return error

    def test_refused(self) -> None:
        data = (
            b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n\r\n"
            b"origin not allowed\n"
        )
        error = self.assertRaises(
            HandshakeRefused, rfcExample().validate, responseTo(rfcExample(), data)
        )
        self.assertEqual(
            (error.status, error.reason, error.body), (403, "Forbidden", b"origin not allowed\n")
        )
        self.assertEqual(error.headers.get("content-length"), "19")
        self.assertEqual(
            str(error),
            "the server refused the WebSocket handshake: 403 Forbidden (origin not allowed)",
        )
        self.assertIsInstance(error, HandshakeFailed)

    def test_refusedMessage(self) -> None:
        headers = Headers()
        self.assertEqual(
            str(HandshakeRefused(404, "Not Found", headers)),
            "the server refused the WebSocket handshake: 404 Not Found",
        )
        longBody = b"<html>\n<body>" + b"x" * 300
        self.assertEqual(
            str(HandshakeRefused(500, "Oops", headers, longBody)),
            "the server refused the WebSocket handshake: 500 Oops (<html>...)",
        )

    def test_everyVersionRefused(self) -> None:
        for version in VERSIONS:
            handshake = ClientHandshake.new("ws://h/", version=version)
            response = responseTo(handshake, renderResponse(503, [("Retry-After", "5")], b"busy"))
            error = self.assertRaises(HandshakeRefused, handshake.validate, response)
            self.assertEqual((error.status, error.body), (503, b"busy"))

    def test_wrongAccept(self) -> None:
        wrong = acceptKey("x3JJHMbDL1EzLkh9GBhXDw==").encode()
        self.assertInvalid(
            rfcExample(),
            RFC_RESPONSE.replace(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", wrong),
            "wrong Sec-WebSocket-Accept",
        )

    def test_acceptMissingOrRepeated(self) -> None:
        self.assertInvalid(
            rfcExample(),
            RFC_RESPONSE.replace(b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", b""),
            "Sec-WebSocket-Accept is missing",
        )
        line = b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        self.assertInvalid(
            rfcExample(), RFC_RESPONSE.replace(line, line * 2), "wrong Sec-WebSocket-Accept"
        )

    def test_noUpgrade(self) -> None:
        self.assertInvalid(
            rfcExample(),
            RFC_RESPONSE.replace(b"Upgrade: websocket\r\n", b""),
            "Upgrade: websocket is missing",
        )
        for value in (b"h2c", b"websocket, h2c"):
            self.assertInvalid(
                rfcExample(),
                RFC_RESPONSE.replace(b"Upgrade: websocket", b"Upgrade: " + value),
                "Upgrade is",
            )

    def test_upgradeCaseInsensitive(self) -> None:
        response = RFC_RESPONSE.replace(b"Upgrade: websocket", b"Upgrade: WebSocket")
        self.assertEqual(
            rfcExample().validate(responseTo(rfcExample(), response)).subprotocol, "chat"
        )
        response = RFC_RESPONSE.replace(b"Connection: Upgrade", b"Connection: keep-alive, upgrade")
        self.assertEqual(
            rfcExample().validate(responseTo(rfcExample(), response)).subprotocol, "chat"
        )

    def test_noConnection(self) -> None:
        for replacement in (b"", b"Connection: keep-alive\r\n"):
            self.assertInvalid(
                rfcExample(),
                RFC_RESPONSE.replace(b"Connection: Upgrade\r\n", replacement),
                "Connection: Upgrade is missing",
            )

    def test_http10(self) -> None:
        self.assertInvalid(
            rfcExample(), RFC_RESPONSE.replace(b"HTTP/1.1", b"HTTP/1.0"), "must be HTTP/1.1"
        )

    def test_unofferedSubprotocol(self) -> None:
        self.assertInvalid(
            rfcExample(),
            RFC_RESPONSE.replace(b"Protocol: chat", b"Protocol: other"),
            "sub-protocol 'other' was not offered",
        )
        plain = ClientHandshake(url=parseURL("ws://server.example.com/chat"), key=RFC_KEY)
        self.assertInvalid(plain, RFC_RESPONSE, "sub-protocol 'chat' was not offered")

    def test_severalSubprotocols(self) -> None:
        self.assertInvalid(
            rfcExample(),
            RFC_RESPONSE.replace(b"Protocol: chat", b"Protocol: chat, superchat"),
            "several sub-protocols",
        )
        self.assertInvalid(
            rfcExample(),
            RFC_RESPONSE.replace(
                b"Protocol: chat\r\n", b"Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"
            ),
            "several sub-protocols",
        )

    def test_noSubprotocolChosen(self) -> None:
        response = RFC_RESPONSE.replace(b"Sec-WebSocket-Protocol: chat\r\n", b"")
        self.assertIsNone(rfcExample().validate(responseTo(rfcExample(), response)).subprotocol)

    def withExtensions(self, value: bytes) -> bytes:
        return RFC_RESPONSE.replace(
            b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: " + value + b"\r\n\r\n"
        )

    def test_unofferedExtension(self) -> None:
        deflating = ClientHandshake(
            url=parseURL("ws://server.example.com/chat"),
            key=RFC_KEY,
            subprotocols=("chat",),
            deflate=DeflatePolicy(),
        )
        self.assertInvalid(
            deflating,
            self.withExtensions(b"x-webkit-deflate-frame"),
            "'x-webkit-deflate-frame' was not offered",
        )
        self.assertInvalid(
            rfcExample(),
            self.withExtensions(b"permessage-deflate"),
            "'permessage-deflate' was not offered",
        )
        disabled = ClientHandshake(
            url=deflating.url,
            key=RFC_KEY,
            subprotocols=("chat",),
            deflate=DeflatePolicy(enabled=False),
        )
        self.assertInvalid(disabled, self.withExtensions(b"permessage-deflate"), "was not offered")

    def test_badDeflateAnswer(self) -> None:
        deflating = ClientHandshake(
            url=parseURL("ws://server.example.com/chat"),
            key=RFC_KEY,
            subprotocols=("chat",),
            deflate=DeflatePolicy(serverMaxWindowBits=10),
        )
        for value, reason in [
            (b"permessage-deflate; server_max_window_bits=12", "over the 10 offered"),
            (b"permessage-deflate", "offered and not answered"),
            (b"permessage-deflate; server_max_window_bits=9; foo", "unknown parameter"),
            (b"permessage-deflate; server_max_window_bits=9, permessage-deflate", "agreed twice"),
            (b'permessage-deflate; server_max_window_bits=9; x="a b"', "malformed extension"),
            (
                b"permessage-deflate; server_max_window_bits=9; server_max_window_bits=9",
                "malformed",
            ),
        ]:
            self.assertInvalid(deflating, self.withExtensions(value), reason)

    def test_deflateAgreed(self) -> None:
        deflating = ClientHandshake(
            url=parseURL("ws://server.example.com/chat"),
            key=RFC_KEY,
            subprotocols=("chat",),
            deflate=DeflatePolicy(),
        )
        response = self.withExtensions(b"permessage-deflate; server_max_window_bits=9")
        accepted = deflating.validate(responseTo(deflating, response))
        assert accepted.deflate is not None
        self.assertEqual(accepted.deflate.receiveWindowBits, 9)
        self.assertEqual(accepted.extensions, "permessage-deflate; server_max_window_bits=9")

    def test_oversizedHead(self) -> None:
        data = RFC_RESPONSE.replace(b"\r\n\r\n", b"\r\nX-Padding: " + b"a" * 20000 + b"\r\n\r\n")
        error = self.assertRaises(InvalidHandshakeResponse, readInChunks, data, 1000)
        self.assertEqual(error.reason, "response head larger than 16384 bytes")
        self.assertIsNone(error.response)

    def test_wrongHixie76Answer(self) -> None:
        self.assertInvalid(
            draft76Example(),
            DRAFT76_RESPONSE.replace(b"8jKS'y:G*Co,Wxa-", b"8jKS'y:G*Co,Wxa_"),
            "wrong answer to the Hixie-76 challenge",
        )

    def test_hixie76AnswerCutShort(self) -> None:
        reader = ResponseReader(maxHandshakeSize=HEAD_LIMIT, switchBodySize=16)
        self.assertIsNone(reader.feed(DRAFT76_RESPONSE[:-1]))
        error = self.assertRaises(InvalidHandshakeResponse, reader.end)
        self.assertIn("15 of the 16 bytes", error.reason)

    def test_hixieFields(self) -> None:
        """
        The drafts' fixed fields must be exact, and the origin and location
        echoed exactly, once.
        """
        for example, response, prefix in [
            (draft76Example(), DRAFT76_RESPONSE, b"Sec-WebSocket-"),
            (draft75Example(), DRAFT75_RESPONSE, b"WebSocket-"),
        ]:
            location = prefix + b"Location: ws://example.com/demo\r\n"
            origin = prefix + b"Origin: http://example.com\r\n"
            for old, new, reason in [
                (b"Upgrade: WebSocket\r\n", b"Upgrade: websocket\r\n", "upgrade is 'websocket'"),
                (b"Upgrade: WebSocket\r\n", b"", "upgrade is missing"),
                (b"Connection: Upgrade\r\n", b"", "connection is missing"),
                (location, b"", "location is missing"),
                (location, location.replace(b"/demo", b"/other"), "is 'ws://example.com/other'"),
                (location, location.replace(b"ws:", b"wss:"), "not 'ws://example.com/demo'"),
                (location, location * 2, "location appears 2 times"),
                (origin, b"", "origin is missing"),
                (origin, origin.replace(b"example", b"evil"), "'http://evil.com', not"),
                (
                    prefix + b"Protocol: sample",
                    prefix + b"Protocol: other",
                    "'other' was not offered",
                ),
            ]:
                self.assertInvalid(example, response.replace(old, new), reason)

    def test_hixieWithoutOrigin(self) -> None:
        """
        Having sent no origin, a client has none to check.
        """
        for version, response in [(HIXIE_76, DRAFT76_RESPONSE), (HIXIE_75, DRAFT75_RESPONSE)]:
            handshake = ClientHandshake(
                url=parseURL("ws://example.com/demo"),
                version=version,
                challenge=DRAFT76_CHALLENGE if version is HIXIE_76 else None,
                subprotocols=("sample",),
            )
            for origin in (b"http://example.com", b"null"):
                data = response.replace(b"http://example.com", origin)
                self.assertEqual(
                    handshake.validate(responseTo(handshake, data)).subprotocol, "sample"
                )

    def test_hixieSubprotocol(self) -> None:
        """
        The drafts ignore a protocol field the client did not ask for, and
        a server may answer without one.
        """
        plain = ClientHandshake(
            url=parseURL("ws://example.com/demo"),
            version=HIXIE_76,
            challenge=DRAFT76_CHALLENGE,
            origin="http://example.com",
        )
        self.assertIsNone(plain.validate(responseTo(plain, DRAFT76_RESPONSE)).subprotocol)
        response = DRAFT76_RESPONSE.replace(b"Sec-WebSocket-Protocol: sample\r\n", b"")
        example = draft76Example()
        self.assertIsNone(example.validate(responseTo(example, response)).subprotocol)

    def test_maskedServerFrameAfterHandshake(self) -> None:
        """
        The frames after a 101 are the decoder's: a masked one fails with
        1002.
        """
        data = RFC_RESPONSE + hybi.encodeMaskedMessage("Hello", key=b"abcd")
        response, rest = readInChunks(data, 5)
        rfcExample().validate(response)
        decoder = hybi.FrameDecoder(maxMessageSize=LIMIT, expectMasked=False)
        with self.assertRaises(hybi.ProtocolError) as caught:
            decoder.feed(rest)
        self.assertEqual(caught.exception.code, 1002)

    def test_invalidUtf8AfterHandshake(self) -> None:
        response, rest = readInChunks(RFC_RESPONSE + b"\x81\x02\xc3\x28", 3)
        rfcExample().validate(response)
        with self.assertRaises(hybi.ProtocolError) as caught:
            hybi.FrameDecoder(maxMessageSize=LIMIT, expectMasked=False).feed(rest)
        self.assertEqual(caught.exception.code, 1007)
        response, rest = readInChunks(DRAFT76_RESPONSE + b"\x00\xc3\x28\xff", 3, 16)
        draft76Example().validate(response)
        with self.assertRaises(hybi.ProtocolError) as caught:
            hixie.HixieDecoder(maxMessageSize=LIMIT).feed(rest)
        self.assertEqual(caught.exception.code, 1007)


class WebsocketsInteropTests(SynchronousTestCase):
    """
    The C{websockets} library's sans-I/O protocols against our codecs.
    """

    def test_theirClientOurServerCodecs(self) -> None:
        """
        websockets' client request is read by L{RequestReader} and
        L{readOpening}, and it accepts L{renderAccept}'s answer.
        """
        client = ClientProtocol(
            parse_uri("ws://127.0.0.1:8080/chat?x=1"),
            origin="http://127.0.0.1:8080",  # type: ignore[arg-type]
            subprotocols=["chat"],  # type: ignore[list-item]
            extensions=[ClientPerMessageDeflateFactory()],
        )
        client.send_request(client.connect())
        data = b"".join(client.data_to_send())
        for size in range(1, len(data) + 1):
            reader = RequestReader(maxHandshakeSize=HEAD_LIMIT)
            request = None
            for start in range(0, len(data), size):
                request = request or reader.feed(data[start : start + size])
            assert request is not None
            self.assertEqual(reader.remainder, b"")
        assert request is not None
        opening = readOpening(request)
        self.assertEqual(opening.version, RFC6455)
        self.assertEqual(opening.subprotocols, ("chat",))
        self.assertEqual(opening.origin, "http://127.0.0.1:8080")
        agreed = negotiate(parseExtensions(opening.extensions), DeflatePolicy())
        assert agreed is not None
        client.receive_data(renderAccept(opening, subprotocol="chat", extensions=agreed[0]))
        self.assertEqual(client.state, State.OPEN)
        self.assertEqual(client.subprotocol, "chat")
        self.assertEqual([e.name for e in client.extensions], ["permessage-deflate"])

    def serve(
        self, handshake: ClientHandshake, server: ServerProtocol, size: int
    ) -> tuple[Accepted, bytes]:
        """
        Our request to websockets' server, its answer to our reader.
        """
        server.receive_data(handshake.render())
        [request] = server.events_received()
        assert isinstance(request, WsRequest)
        server.send_response(server.accept(request))
        data = b"".join(server.data_to_send())
        response, rest = readInChunks(data, size)
        return handshake.validate(response), rest

    def test_ourClientTheirServer(self) -> None:
        """
        websockets' server reads our request; its answer passes our checks,
        in every chunking; messages go both ways, compressed.
        """
        for size in (1, 2, 3, 10, 1000):
            server = ServerProtocol(
                subprotocols=["superchat", "chat"],  # type: ignore[list-item]
                extensions=[ServerPerMessageDeflateFactory()],
            )
            handshake = ClientHandshake.new(
                "ws://127.0.0.1:8080/chat",
                subprotocols=["chat", "superchat"],
                origin="http://127.0.0.1:8080",
                deflate=DeflatePolicy(minSize=0),
            )
            accepted, rest = self.serve(handshake, server, size)
            self.assertEqual(rest, b"")
            self.assertEqual(server.state, State.OPEN)
            self.assertEqual(accepted.subprotocol, "superchat")
            assert accepted.deflate is not None

            keys = hybi.MaskKeys()
            messages: list[str | bytes] = ["Hello", "Hello", "κόσμε " * 100, b"\x00\x01" * 3000]
            for message in messages:
                server.receive_data(
                    hybi.encodeMaskedMessage(message, accepted.deflate, key=keys.next())
                )
            frames = server.events_received()
            self.assertEqual(
                [f.data.decode() if f.opcode is WsOpcode.TEXT else f.data for f in frames],  # type: ignore[union-attr]
                messages,
            )
            server.send_text(b"back" * 50)
            server.send_close(1000, "bye")
            decoder = hybi.FrameDecoder(
                maxMessageSize=LIMIT, expectMasked=False, deflate=accepted.deflate
            )
            events = decoder.feed(b"".join(server.data_to_send()))
            self.assertEqual(events, ["back" * 50, hybi.Close(1000, "bye")])

    def test_theirServerWithoutExtensions(self) -> None:
        server = ServerProtocol()
        handshake = ClientHandshake.new("ws://h/", deflate=DeflatePolicy())
        accepted, _ = self.serve(handshake, server, 1)
        self.assertIsNone(accepted.deflate)
        self.assertIsNone(accepted.subprotocol)

    def test_theirServerRefuses(self) -> None:
        server = ServerProtocol(origins=["http://allowed"])  # type: ignore[list-item]
        handshake = ClientHandshake.new("ws://h/", origin="http://denied")
        server.receive_data(handshake.render())
        [request] = server.events_received()
        assert isinstance(request, WsRequest)
        server.send_response(server.accept(request))
        response, _ = readInChunks(b"".join(server.data_to_send()), 1)
        error = self.assertRaises(HandshakeRefused, handshake.validate, response)
        self.assertEqual(error.status, 403)
        self.assertIn(b"Origin", error.body)

    def test_frameParsedByWebsockets(self) -> None:
        """
        Our masked frames are what websockets' own parser expects from a
        client, at every length boundary.
        """
        keys = hybi.MaskKeys()
        for length in (0, 125, 126, 65535, 65536):
            payload = bytes(length)
            reader = StreamReader()
            reader.feed_data(hybi.encodeMaskedMessage(payload, key=keys.next()))
            parser = Frame.parse(reader.read_exact, mask=True)
            with self.assertRaises(StopIteration) as done:
                next(parser)
            frame = done.exception.value
            self.assertEqual(
                (frame.opcode, frame.data, frame.fin), (WsOpcode.BINARY, payload, True)
            )
