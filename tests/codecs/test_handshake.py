"""
Tests for L{ratchet_tx.websocket.codecs.handshake}.
"""

from __future__ import annotations

import base64
import hashlib

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs.errors import HandshakeError
from ratchet_tx.websocket.codecs.handshake import (
    ALL_VERSIONS,
    Opening,
    WebSocketVersion,
    acceptKey,
    readOpening,
    renderAccept,
    splitList,
)
from ratchet_tx.websocket.codecs.http import Headers, Request, RequestReader

#: The handshake size limit given to readers where the test needs no other.
HEAD_LIMIT = 16384

# The RFC 6455 section 1.3 example.
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

RFC6455_REQUEST = (
    b"GET /chat?room=lobby HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"Connection: Upgrade\r\n"
    b"Pragma: no-cache\r\n"
    b"Cache-Control: no-cache\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
    b"(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
    b"Upgrade: websocket\r\n"
    b"Origin: http://localhost:8080\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\n"
    b"Cookie: session=abc123; theme=dark\r\n"
    b"Sec-WebSocket-Key: SWbWyztHSHaIzXFfqzxrkg==\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"\r\n"
)

# Chrome 14: draft-ietf-hybi-10, "Sec-WebSocket-Version: 8".
CHROME14_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Host: localhost:8080\r\n"
    b"Sec-WebSocket-Origin: http://localhost:8080\r\n"
    b"Sec-WebSocket-Key: W4pBQKK+ARwmQ7Aw1/SLww==\r\n"
    b"Sec-WebSocket-Version: 8\r\n"
    b"Cookie: session=abc123\r\n"
    b"\r\n"
)

# Firefox 6: draft-ietf-hybi-07, "Sec-WebSocket-Version: 7".
FIREFOX6_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:6.0) Gecko/20100101 Firefox/6.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-us,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate\r\n"
    b"Accept-Charset: ISO-8859-1,utf-8;q=0.7,*;q=0.7\r\n"
    b"Connection: keep-alive, Upgrade\r\n"
    b"Sec-WebSocket-Version: 7\r\n"
    b"Sec-WebSocket-Origin: http://localhost:8080\r\n"
    b"Sec-WebSocket-Key: OYe9FGbrsK/aSnSrZsXyAQ==\r\n"
    b"Pragma: no-cache\r\n"
    b"Cache-Control: no-cache\r\n"
    b"Upgrade: websocket\r\n"
    b"\r\n"
)

# Safari 5: draft-hixie-76, with the draft's section 1.3 keys; key3 follows.
SAFARI5_REQUEST = (
    b"GET /demo HTTP/1.1\r\n"
    b"Upgrade: WebSocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Host: example.com\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: sample\r\n"
    b"Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
    b"Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n"
    b"\r\n"
)
SAFARI5_KEY3 = b"^n:ds[4U"

# Chrome 4: draft-hixie-75.
CHROME4_REQUEST = (
    b"GET /demo HTTP/1.1\r\n"
    b"Upgrade: WebSocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Host: example.com\r\n"
    b"Origin: http://example.com\r\n"
    b"WebSocket-Protocol: sample\r\n"
    b"\r\n"
)

FIRST_HIXIE_FRAME = b"\x00Hello\xff"
FIRST_HYBI_FRAME = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"  # RFC 5.7


def request(data: bytes) -> Request:
    parsed = RequestReader(maxHandshakeSize=HEAD_LIMIT).feed(data)
    assert parsed is not None
    return parsed


def opening(data: bytes, versions: frozenset[WebSocketVersion] = ALL_VERSIONS) -> Opening:
    return readOpening(request(data), versions)


def replace(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data, old
    return data.replace(old, new)


def feedInChunks(data: bytes, size: int) -> tuple[Request, bytes]:
    """
    Feed C{data} in chunks of C{size} until a request comes out.

    @return: the request and every byte after its head.
    """
    reader = RequestReader(maxHandshakeSize=HEAD_LIMIT)
    for start in range(0, len(data), size):
        parsed = reader.feed(data[start : start + size])
        if parsed is not None:
            return parsed, reader.remainder + data[start + size :]
    raise AssertionError("no request")


class VersionTests(SynchronousTestCase):
    """
    L{WebSocketVersion} knows its wire numbers and family.
    """

    def test_wireNumbers(self) -> None:
        self.assertEqual(WebSocketVersion.RFC6455.wireNumber, 13)
        self.assertEqual(WebSocketVersion.HYBI_10.wireNumber, 8)
        self.assertEqual(WebSocketVersion.HYBI_07.wireNumber, 7)
        self.assertIsNone(WebSocketVersion.HIXIE_76.wireNumber)
        self.assertIsNone(WebSocketVersion.HIXIE_75.wireNumber)

    def test_isHixie(self) -> None:
        self.assertEqual(
            {version for version in WebSocketVersion if version.isHixie},
            {WebSocketVersion.HIXIE_75, WebSocketVersion.HIXIE_76},
        )

    def test_all(self) -> None:
        self.assertEqual(ALL_VERSIONS, frozenset(WebSocketVersion))
        self.assertEqual(len(ALL_VERSIONS), 5)


class AcceptKeyTests(SynchronousTestCase):
    """
    L{acceptKey} answers C{Sec-WebSocket-Key}.
    """

    def test_rfcExample(self) -> None:
        """
        RFC 6455 section 1.3's example.
        """
        self.assertEqual(acceptKey(RFC_KEY), RFC_ACCEPT)

    def test_definition(self) -> None:
        key = "W4pBQKK+ARwmQ7Aw1/SLww=="
        digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        self.assertEqual(acceptKey(key), base64.b64encode(digest).decode())


class FixtureTests(SynchronousTestCase):
    """
    Requests as real browsers send them are recognised and read whole.
    """

    def assertChunkings(self, data: bytes, after: bytes) -> None:
        """
        C{data + after} in every chunk size gives the same request, and
        exactly C{after} following its head.
        """
        expected = request(data)
        stream = data + after
        for size in range(1, len(stream) + 1):
            parsed, rest = feedInChunks(stream, size)
            self.assertEqual(parsed, expected, f"chunk size {size}")
            self.assertEqual(rest, after, f"chunk size {size}")
            self.assertEqual(readOpening(parsed), readOpening(expected))

    def test_rfc6455(self) -> None:
        result = opening(RFC6455_REQUEST)
        self.assertEqual(result.version, WebSocketVersion.RFC6455)
        self.assertEqual(result.origin, "http://localhost:8080")
        self.assertEqual(result.subprotocols, ("chat", "superchat"))
        self.assertEqual(result.extensions, ("permessage-deflate; client_max_window_bits",))
        self.assertEqual(result.key, "SWbWyztHSHaIzXFfqzxrkg==")
        self.assertEqual(result.key3Length, 0)
        self.assertEqual(result.request.path, "/chat")
        self.assertEqual(result.request.query, "room=lobby")
        self.assertEqual(result.request.cookies, {"session": "abc123", "theme": "dark"})

    def test_rfc6455Chunked(self) -> None:
        self.assertChunkings(RFC6455_REQUEST, FIRST_HYBI_FRAME)

    def test_chrome14(self) -> None:
        result = opening(CHROME14_REQUEST)
        self.assertEqual(result.version, WebSocketVersion.HYBI_10)
        self.assertEqual(result.origin, "http://localhost:8080")
        self.assertEqual(result.subprotocols, ())
        self.assertEqual(result.extensions, ())
        self.assertEqual(result.key, "W4pBQKK+ARwmQ7Aw1/SLww==")
        self.assertEqual(result.key3Length, 0)

    def test_chrome14Chunked(self) -> None:
        self.assertChunkings(CHROME14_REQUEST, b"")

    def test_hybi10OriginFallback(self) -> None:
        """
        Version 8 clients that send C{Origin} (Firefox 7) are heard too.
        """
        data = replace(CHROME14_REQUEST, b"Sec-WebSocket-Origin", b"Origin")
        self.assertEqual(opening(data).origin, "http://localhost:8080")

    def test_firefox6(self) -> None:
        result = opening(FIREFOX6_REQUEST)
        self.assertEqual(result.version, WebSocketVersion.HYBI_07)
        self.assertEqual(result.origin, "http://localhost:8080")
        self.assertEqual(result.key, "OYe9FGbrsK/aSnSrZsXyAQ==")
        self.assertEqual(result.key3Length, 0)

    def test_firefox6Chunked(self) -> None:
        self.assertChunkings(FIREFOX6_REQUEST, FIRST_HYBI_FRAME)

    def test_safari5(self) -> None:
        result = opening(SAFARI5_REQUEST)
        self.assertEqual(result.version, WebSocketVersion.HIXIE_76)
        self.assertEqual(result.origin, "http://example.com")
        self.assertEqual(result.subprotocols, ("sample",))
        self.assertEqual(result.extensions, ())
        self.assertIsNone(result.key)
        self.assertEqual(result.key3Length, 8)

    def test_safari5Key3Alone(self) -> None:
        self.assertChunkings(SAFARI5_REQUEST, SAFARI5_KEY3)

    def test_safari5Key3AndFrame(self) -> None:
        """
        key3 and the first frame glued to the head stay in order.
        """
        self.assertChunkings(SAFARI5_REQUEST, SAFARI5_KEY3 + FIRST_HIXIE_FRAME)

    def test_safari5PartialKey3(self) -> None:
        """
        Only part of key3 may arrive with the head; the rest comes later.
        """
        reader = RequestReader(maxHandshakeSize=HEAD_LIMIT)
        self.assertIsNotNone(reader.feed(SAFARI5_REQUEST + SAFARI5_KEY3[:3]))
        self.assertEqual(reader.remainder, SAFARI5_KEY3[:3])

    def test_chrome4(self) -> None:
        result = opening(CHROME4_REQUEST)
        self.assertEqual(result.version, WebSocketVersion.HIXIE_75)
        self.assertEqual(result.origin, "http://example.com")
        self.assertEqual(result.subprotocols, ("sample",))
        self.assertIsNone(result.key)
        self.assertEqual(result.key3Length, 0)

    def test_chrome4Chunked(self) -> None:
        self.assertChunkings(CHROME4_REQUEST, FIRST_HIXIE_FRAME)


class DetectionTests(SynchronousTestCase):
    """
    L{readOpening} tells the versions apart, and refuses the ones it does
    not speak.
    """

    def test_versionWins(self) -> None:
        """
        A version header decides even beside Hixie keys.
        """
        data = replace(
            RFC6455_REQUEST,
            b"Pragma: no-cache\r\n",
            b"Sec-WebSocket-Key1: 1 1\r\nSec-WebSocket-Key2: 1 1\r\n",
        )
        self.assertEqual(opening(data).version, WebSocketVersion.RFC6455)

    def test_unknownVersion(self) -> None:
        """
        An unknown version gets 426 and the versions we speak, newest first.
        """
        for wire in (b"6", b"12", b"14", b"99", b"13, 8", b"thirteen", b""):
            data = replace(
                RFC6455_REQUEST,
                b"Sec-WebSocket-Version: 13",
                b"Sec-WebSocket-Version: " + wire,
            )
            error = self.assertRaises(HandshakeError, opening, data)
            self.assertEqual(error.status, 426, wire)
            self.assertEqual(error.headers, (("Sec-WebSocket-Version", "13, 8, 7"),))

    def test_missingVersion(self) -> None:
        """
        A C{Sec-WebSocket-Key} without a version is a HyBi client of an
        unknown version.
        """
        data = replace(RFC6455_REQUEST, b"Sec-WebSocket-Version: 13\r\n", b"")
        error = self.assertRaises(HandshakeError, opening, data)
        self.assertEqual(error.status, 426)

    def test_disabledVersion(self) -> None:
        """
        A version we know but do not accept gets 426 with the ones we do.
        """
        versions = ALL_VERSIONS - {WebSocketVersion.HYBI_10}
        error = self.assertRaises(HandshakeError, opening, CHROME14_REQUEST, versions)
        self.assertEqual(error.status, 426)
        self.assertEqual(error.headers, (("Sec-WebSocket-Version", "13, 7"),))

    def test_onlyRfc(self) -> None:
        versions = frozenset({WebSocketVersion.RFC6455})
        error = self.assertRaises(HandshakeError, opening, FIREFOX6_REQUEST, versions)
        self.assertEqual(error.status, 426)
        self.assertEqual(error.headers, (("Sec-WebSocket-Version", "13"),))
        self.assertEqual(opening(RFC6455_REQUEST, versions).version, WebSocketVersion.RFC6455)

    def test_noHybiEnabled(self) -> None:
        """
        With no HyBi version enabled, a HyBi client gets 400.
        """
        versions = frozenset({WebSocketVersion.HIXIE_76})
        for data in (RFC6455_REQUEST, CHROME14_REQUEST):
            error = self.assertRaises(HandshakeError, opening, data, versions)
            self.assertEqual(error.status, 400)
            self.assertEqual(error.headers, ())
        self.assertEqual(opening(SAFARI5_REQUEST, versions).version, WebSocketVersion.HIXIE_76)

    def test_hixieDisabled(self) -> None:
        """
        Disabled Hixie versions get 400, saying why.
        """
        versions = frozenset({WebSocketVersion.RFC6455})
        for data, name in ((SAFARI5_REQUEST, "hixie-76"), (CHROME4_REQUEST, "hixie-75")):
            error = self.assertRaises(HandshakeError, opening, data, versions)
            self.assertEqual(error.status, 400)
            self.assertIn(name, error.reason)
            self.assertIn("not accepted", error.reason)

    def test_hixie76Only(self) -> None:
        versions = frozenset({WebSocketVersion.HIXIE_76})
        error = self.assertRaises(HandshakeError, opening, CHROME4_REQUEST, versions)
        self.assertEqual(error.status, 400)

    def test_oneHixieKey(self) -> None:
        """
        One Hixie-76 key without the other is refused.
        """
        for key in (b"Key1", b"Key2"):
            data = SAFARI5_REQUEST.replace(b"Sec-WebSocket-" + key, b"X-Removed")
            error = self.assertRaises(HandshakeError, opening, data)
            self.assertEqual(error.status, 400)


class ValidationTests(SynchronousTestCase):
    """
    L{readOpening} refuses requests that break their version's rules.
    """

    FIXTURES = (
        RFC6455_REQUEST,
        CHROME14_REQUEST,
        FIREFOX6_REQUEST,
        SAFARI5_REQUEST,
        CHROME4_REQUEST,
    )

    def assertRefused(self, data: bytes, status: int = 400) -> HandshakeError:
        error = self.assertRaises(HandshakeError, opening, data)
        self.assertEqual(error.status, status, error.reason)
        return error

    def test_method(self) -> None:
        for data in self.FIXTURES:
            self.assertRefused(b"POST" + data[len(b"GET") :])
            self.assertRefused(b"get" + data[len(b"GET") :])

    def test_httpVersion(self) -> None:
        """
        HyBi and RFC handshakes need HTTP/1.1 or later.
        """
        for version in ("1.0", "0.9", "x"):
            for data in self.FIXTURES[:3]:
                parsed = request(data)
                old = Request(
                    parsed.method,
                    parsed.target,
                    parsed.path,
                    parsed.query,
                    version,
                    parsed.headers,
                )
                error = self.assertRaises(HandshakeError, readOpening, old)
                self.assertEqual(error.status, 400)

    def test_missingHost(self) -> None:
        for data in self.FIXTURES:
            self.assertRefused(data.replace(b"\r\nHost:", b"\r\nX-Host:"))

    def test_twoHosts(self) -> None:
        for data in self.FIXTURES:
            self.assertRefused(data.replace(b"\r\nHost:", b"\r\nHost: evil\r\nHost:"))

    def test_upgrade(self) -> None:
        for data in self.FIXTURES:
            self.assertRefused(data.replace(b"\r\nUpgrade:", b"\r\nX-Upgrade:"))
            self.assertRefused(
                data.replace(b"Upgrade: websocket", b"Upgrade: h2c").replace(
                    b"Upgrade: WebSocket", b"Upgrade: h2c"
                )
            )

    def test_upgradeTokens(self) -> None:
        """
        Upgrade and Connection are comma-separated, case-insensitive lists.
        """
        data = replace(RFC6455_REQUEST, b"Upgrade: websocket", b"Upgrade: h2c, WEBSOCKET")
        data = replace(data, b"Connection: Upgrade", b"Connection: keep-alive,upgrade")
        self.assertEqual(opening(data).version, WebSocketVersion.RFC6455)

    def test_upgradeNotSubstring(self) -> None:
        data = replace(RFC6455_REQUEST, b"Upgrade: websocket", b"Upgrade: websockets")
        self.assertRefused(data)
        data = replace(RFC6455_REQUEST, b"Connection: Upgrade", b"Connection: Upgraded")
        self.assertRefused(data)

    def test_connection(self) -> None:
        for data in self.FIXTURES:
            self.assertRefused(data.replace(b"\r\nConnection:", b"\r\nX-Connection:"))
            self.assertRefused(
                data.replace(b"Connection: Upgrade", b"Connection: close").replace(
                    b"Connection: keep-alive, Upgrade", b"Connection: keep-alive"
                )
            )

    def test_missingKey(self) -> None:
        for data in self.FIXTURES[:3]:
            error = self.assertRefused(data.replace(b"\r\nSec-WebSocket-Key:", b"\r\nX-Key:"))
            self.assertIn("Sec-WebSocket-Key", error.reason)

    def test_badKeys(self) -> None:
        """
        The key must be base64 of exactly 16 bytes.
        """
        for key in (
            b"",
            b"dGhlIHNhbXBsZSBub25jZQ",  # padding missing
            b"dGhlIHNhbXBsZSBub25jZQ==dGhl",
            b"dGhlIHNhbXBsZSBub25j",  # 15 bytes
            b"dGhlIHNhbXBsZSBub25jZTE=",  # 17 bytes
            b"dGhlIHNhbXBsZSBub25jZQ!=",
            b"dGhlIHNhbXBs ZSBub25jZQ==",
            b"dGhlIHNhbXBsZSBub25jZQ\xe9=",
        ):
            data = replace(
                RFC6455_REQUEST,
                b"Sec-WebSocket-Key: SWbWyztHSHaIzXFfqzxrkg==",
                b"Sec-WebSocket-Key: " + key,
            )
            self.assertRefused(data)

    def test_twoKeys(self) -> None:
        data = replace(
            RFC6455_REQUEST,
            b"Pragma: no-cache\r\n",
            b"Sec-WebSocket-Key: " + RFC_KEY.encode() + b"\r\n",
        )
        self.assertRefused(data)

    def test_badHixieKeys(self) -> None:
        """
        Hixie-76 keys are checked before key3 is awaited.
        """
        key1 = b"4 @1  46546xW%0l 1 5"
        for bad in (b"4146546015", b"4 1 1", b"4294967296 ", b"no digits"):
            self.assertRefused(replace(SAFARI5_REQUEST, key1, bad))

    def test_hybi07OriginHeader(self) -> None:
        """
        HyBi-07 clients name their origin in C{Sec-WebSocket-Origin}.
        """
        data = replace(FIREFOX6_REQUEST, b"Sec-WebSocket-Origin", b"X-Origin")
        self.assertIsNone(opening(data).origin)

    def test_rfcOriginHeader(self) -> None:
        data = replace(RFC6455_REQUEST, b"Origin:", b"Sec-WebSocket-Origin:")
        self.assertIsNone(opening(data).origin)

    def test_noOrigin(self) -> None:
        data = replace(SAFARI5_REQUEST, b"Origin:", b"X-Origin:")
        self.assertIsNone(opening(data).origin)


class ListTests(SynchronousTestCase):
    """
    Sub-protocols and extensions are comma-separated lists.
    """

    def test_subprotocols(self) -> None:
        data = replace(
            RFC6455_REQUEST,
            b"Sec-WebSocket-Protocol: chat, superchat",
            b"Sec-WebSocket-Protocol: chat,,  superchat \r\nSec-WebSocket-Protocol: v2",
        )
        self.assertEqual(opening(data).subprotocols, ("chat", "superchat", "v2"))

    def test_noSubprotocols(self) -> None:
        data = replace(RFC6455_REQUEST, b"Sec-WebSocket-Protocol", b"X-Protocol")
        self.assertEqual(opening(data).subprotocols, ())

    def test_hixieSubprotocolIsOneValue(self) -> None:
        data = replace(SAFARI5_REQUEST, b"Protocol: sample", b"Protocol: a, b")
        self.assertEqual(opening(data).subprotocols, ("a, b",))
        data = replace(CHROME4_REQUEST, b"Protocol: sample", b"Protocol: a, b")
        self.assertEqual(opening(data).subprotocols, ("a, b",))

    def test_hixieEmptySubprotocol(self) -> None:
        data = replace(SAFARI5_REQUEST, b"Protocol: sample", b"Protocol:")
        self.assertEqual(opening(data).subprotocols, ())

    def test_hixieHeaderNames(self) -> None:
        """
        Hixie-76 names its protocol in C{Sec-WebSocket-Protocol}, Hixie-75 in
        C{WebSocket-Protocol}.
        """
        data = replace(SAFARI5_REQUEST, b"Sec-WebSocket-Protocol", b"WebSocket-Protocol")
        self.assertEqual(opening(data).subprotocols, ())
        data = replace(CHROME4_REQUEST, b"WebSocket-Protocol", b"Sec-WebSocket-Protocol")
        self.assertEqual(opening(data).subprotocols, ())

    def test_extensions(self) -> None:
        data = replace(
            RFC6455_REQUEST,
            b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
            b'Sec-WebSocket-Extensions: permessage-deflate; a="1,2", x-webkit-deflate-frame'
            b"\r\nSec-WebSocket-Extensions: foo",
        )
        self.assertEqual(
            opening(data).extensions,
            ('permessage-deflate; a="1,2"', "x-webkit-deflate-frame", "foo"),
        )

    def test_splitList(self) -> None:
        self.assertEqual(splitList(None), ())
        self.assertEqual(splitList(""), ())
        self.assertEqual(splitList(" , ,"), ())
        self.assertEqual(splitList('a, "b,\\"c", d'), ("a", '"b,\\"c"', "d"))
        self.assertEqual(splitList('a; x="unterminated, b'), ('a; x="unterminated, b',))


class RenderAcceptTests(SynchronousTestCase):
    """
    L{renderAccept} writes each version's 101 response.
    """

    def test_rfcExample(self) -> None:
        """
        RFC 6455 section 1.3's example response.
        """
        data = replace(
            RFC6455_REQUEST,
            b"Sec-WebSocket-Key: SWbWyztHSHaIzXFfqzxrkg==",
            b"Sec-WebSocket-Key: " + RFC_KEY.encode(),
        )
        self.assertEqual(
            renderAccept(opening(data), subprotocol="chat"),
            b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            b"Sec-WebSocket-Protocol: chat\r\n"
            b"\r\n",
        )

    def test_hybiMinimal(self) -> None:
        for data in (CHROME14_REQUEST, FIREFOX6_REQUEST):
            result = opening(data)
            assert result.key is not None
            self.assertEqual(
                renderAccept(result),
                b"HTTP/1.1 101 Switching Protocols\r\n"
                b"Upgrade: websocket\r\n"
                b"Connection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + acceptKey(result.key).encode() + b"\r\n"
                b"\r\n",
            )

    def test_extensionsAndExtraHeaders(self) -> None:
        response = renderAccept(
            opening(RFC6455_REQUEST),
            extensions="permessage-deflate",
            extraHeaders=[("Set-Cookie", "a=1")],
        )
        self.assertTrue(
            response.endswith(
                b"Sec-WebSocket-Extensions: permessage-deflate\r\nSet-Cookie: a=1\r\n\r\n"
            )
        )

    def test_subprotocolMustBeOffered(self) -> None:
        for data in (RFC6455_REQUEST, SAFARI5_REQUEST, CHROME4_REQUEST):
            self.assertRaises(
                ValueError, renderAccept, opening(data), subprotocol="other", key3=SAFARI5_KEY3
            )

    def test_hixie76DraftExample(self) -> None:
        """
        draft-hixie-76 section 1.3's example response, byte for byte.
        """
        self.assertEqual(
            renderAccept(opening(SAFARI5_REQUEST), subprotocol="sample", key3=SAFARI5_KEY3),
            b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
            b"Upgrade: WebSocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Origin: http://example.com\r\n"
            b"Sec-WebSocket-Location: ws://example.com/demo\r\n"
            b"Sec-WebSocket-Protocol: sample\r\n"
            b"\r\n"
            b"8jKS'y:G*Co,Wxa-",
        )

    def test_hixie76Secure(self) -> None:
        response = renderAccept(opening(SAFARI5_REQUEST), key3=SAFARI5_KEY3, secure=True)
        self.assertIn(b"\r\nSec-WebSocket-Location: wss://example.com/demo\r\n", response)
        self.assertNotIn(b"Sec-WebSocket-Protocol", response)

    def test_hixie76Location(self) -> None:
        """
        C{location} replaces the whole URL, for proxies that end TLS.
        """
        response = renderAccept(
            opening(SAFARI5_REQUEST),
            key3=SAFARI5_KEY3,
            location="wss://public.example/ws/demo",
        )
        self.assertIn(b"\r\nSec-WebSocket-Location: wss://public.example/ws/demo\r\n", response)

    def test_hixie76LocationKeepsQuery(self) -> None:
        data = replace(SAFARI5_REQUEST, b"GET /demo ", b"GET /demo?a=b ")
        response = renderAccept(opening(data), key3=SAFARI5_KEY3)
        self.assertIn(b"\r\nSec-WebSocket-Location: ws://example.com/demo?a=b\r\n", response)

    def test_hixie76NoOrigin(self) -> None:
        data = replace(SAFARI5_REQUEST, b"Origin:", b"X-Origin:")
        response = renderAccept(opening(data), key3=SAFARI5_KEY3)
        self.assertNotIn(b"Origin", response)

    def test_hixie76Key3Length(self) -> None:
        result = opening(SAFARI5_REQUEST)
        for key3 in (b"", b"1234567", b"123456789"):
            self.assertRaises(ValueError, renderAccept, result, key3=key3)

    def test_hixieHasNoExtensions(self) -> None:
        for data in (SAFARI5_REQUEST, CHROME4_REQUEST):
            self.assertRaises(
                ValueError,
                renderAccept,
                opening(data),
                key3=SAFARI5_KEY3,
                extensions="permessage-deflate",
            )

    def test_hixie75(self) -> None:
        self.assertEqual(
            renderAccept(
                opening(CHROME4_REQUEST),
                subprotocol="sample",
                extraHeaders=[("Server", "ratchet_tx")],
            ),
            b"HTTP/1.1 101 Web Socket Protocol Handshake\r\n"
            b"Upgrade: WebSocket\r\n"
            b"Connection: Upgrade\r\n"
            b"WebSocket-Origin: http://example.com\r\n"
            b"WebSocket-Location: ws://example.com/demo\r\n"
            b"WebSocket-Protocol: sample\r\n"
            b"Server: ratchet_tx\r\n"
            b"\r\n",
        )

    def test_hixie75Secure(self) -> None:
        response = renderAccept(opening(CHROME4_REQUEST), secure=True)
        self.assertIn(b"\r\nWebSocket-Location: wss://example.com/demo\r\n", response)
        self.assertTrue(response.endswith(b"\r\n\r\n"))


_HEADER_NAMES = st.sampled_from(
    [
        "Host",
        "Upgrade",
        "Connection",
        "Origin",
        "Sec-WebSocket-Origin",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Key1",
        "Sec-WebSocket-Key2",
        "Sec-WebSocket-Protocol",
        "WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
        "Cookie",
    ]
)
_HEADER_VALUES = st.one_of(
    st.sampled_from(
        ["websocket", "WebSocket", "Upgrade", "13", "8", "7", RFC_KEY, "1 1", "a, b", ""]
    ),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30),
)


class PropertyTests(SynchronousTestCase):
    """
    Properties over generated requests.
    """

    @given(
        st.sampled_from(["GET", "POST", "get"]),
        st.sampled_from(["1.1", "1.0", "2.0", "x"]),
        st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=12),
        st.sets(st.sampled_from(list(WebSocketVersion))),
    )
    def test_onlyHandshakeErrors(
        self,
        method: str,
        httpVersion: str,
        fields: list[tuple[str, str]],
        versions: set[WebSocketVersion],
    ) -> None:
        """
        Any request is accepted or refused with L{HandshakeError}, and an
        accepted one can be answered.
        """
        candidate = Request(method, "/", "/", "", httpVersion, Headers(fields))
        try:
            result = readOpening(candidate, frozenset(versions))
        except HandshakeError as error:
            self.assertIn(error.status, (400, 426))
            return
        self.assertIn(result.version, versions)
        subprotocol = result.subprotocols[0] if result.subprotocols else None
        response = renderAccept(result, subprotocol=subprotocol, key3=b"12345678")
        self.assertTrue(response.startswith(b"HTTP/1.1 101 "))

    @given(st.binary(max_size=300))
    def test_byteSoup(self, garbage: bytes) -> None:
        """
        A request line followed by random bytes raises only
        L{HandshakeError} through the reader and L{readOpening}.
        """
        reader = RequestReader(maxHandshakeSize=HEAD_LIMIT)
        try:
            parsed = reader.feed(b"GET / HTTP/1.1\r\n" + garbage + b"\r\n\r\n")
            if parsed is not None:
                readOpening(parsed)
        except HandshakeError:
            pass
