"""
Tests for L{ratchet_tx.websocket.codecs.http}.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs.errors import HandshakeError, InvalidHandshakeResponse
from ratchet_tx.websocket.codecs.http import (
    MAX_CHUNK_LINE,
    Headers,
    Request,
    RequestReader,
    Response,
    ResponseReader,
    isToken,
    renderRejection,
    renderRequest,
    renderResponse,
)

#: The handshake size limit given to readers where the test needs no other.
HEAD_LIMIT = 16384

SIMPLE = b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nX-Multi: one\r\nx-multi: two\r\n\r\n"


def readAll(data: bytes, **limits: int) -> RequestReader:
    """
    Feed C{data} to a new reader in one piece and return the reader.
    """
    reader = RequestReader(**{"maxHandshakeSize": HEAD_LIMIT, **limits})
    reader.feed(data)
    return reader


def parse(data: bytes) -> Request:
    request = RequestReader(maxHandshakeSize=HEAD_LIMIT).feed(data)
    assert request is not None
    return request


def feedInChunks(data: bytes, size: int) -> tuple[Request | None, bytes]:
    """
    Feed C{data} in chunks of C{size} bytes until a request comes out.

    @return: the request (or C{None}) and every byte after its head: the
        reader's remainder and the chunks not fed.
    """
    reader = RequestReader(maxHandshakeSize=HEAD_LIMIT)
    for start in range(0, len(data), size):
        request = reader.feed(data[start : start + size])
        if request is not None:
            return request, reader.remainder + data[start + size :]
    return None, b""


class HeadersTests(SynchronousTestCase):
    """
    L{Headers} is a case-insensitive, ordered multimap.
    """

    def setUp(self) -> None:
        self.headers = Headers([("Host", "example.com"), ("Accept", "a"), ("ACCEPT", "b")])

    def test_get(self) -> None:
        self.assertEqual(self.headers.get("host"), "example.com")
        self.assertEqual(self.headers.get("HOST"), "example.com")

    def test_getJoinsRepeats(self) -> None:
        self.assertEqual(self.headers.get("accept"), "a, b")

    def test_getDefault(self) -> None:
        self.assertIsNone(self.headers.get("missing"))
        self.assertEqual(self.headers.get("missing", "x"), "x")

    def test_getAll(self) -> None:
        self.assertEqual(self.headers.getAll("Accept"), ["a", "b"])
        self.assertEqual(self.headers.getAll("missing"), [])

    def test_getAllIsACopy(self) -> None:
        self.headers.getAll("accept").append("c")
        self.assertEqual(self.headers.getAll("accept"), ["a", "b"])

    def test_contains(self) -> None:
        self.assertIn("hOsT", self.headers)
        self.assertNotIn("missing", self.headers)
        self.assertNotIn(1, self.headers)

    def test_items(self) -> None:
        self.assertEqual(
            self.headers.items(),
            [("Host", "example.com"), ("Accept", "a"), ("ACCEPT", "b")],
        )

    def test_len(self) -> None:
        self.assertEqual(len(self.headers), 3)
        self.assertEqual(len(Headers()), 0)

    def test_iterNames(self) -> None:
        self.assertEqual(list(self.headers), ["Host", "Accept", "ACCEPT"])

    def test_equality(self) -> None:
        self.assertEqual(self.headers, Headers(self.headers.items()))
        self.assertNotEqual(self.headers, Headers([("Host", "example.com")]))
        self.assertEqual(hash(self.headers), hash(Headers(self.headers.items())))


class ReadTests(SynchronousTestCase):
    """
    L{RequestReader} reads a request head.
    """

    def test_simple(self) -> None:
        request = parse(SIMPLE)
        self.assertEqual(request.method, "GET")
        self.assertEqual(request.target, "/chat?room=1")
        self.assertEqual(request.path, "/chat")
        self.assertEqual(request.query, "room=1")
        self.assertEqual(request.httpVersion, "1.1")
        self.assertEqual(request.headers.get("host"), "example.com")
        self.assertEqual(request.headers.getAll("x-multi"), ["one", "two"])

    def test_noneUntilComplete(self) -> None:
        reader = RequestReader(maxHandshakeSize=HEAD_LIMIT)
        self.assertIsNone(reader.feed(SIMPLE[:-1]))
        self.assertEqual(reader.remainder, b"")
        self.assertIsNotNone(reader.feed(SIMPLE[-1:]))

    def test_everyChunkSize(self) -> None:
        """
        Any chunking gives the same request and keeps the bytes after it.
        """
        expected = parse(SIMPLE)
        data = SIMPLE + b"\x00after\xff"
        for size in range(1, len(data) + 1):
            request, rest = feedInChunks(data, size)
            self.assertEqual(request, expected, f"chunk size {size}")
            self.assertEqual(rest, b"\x00after\xff", f"chunk size {size}")

    def test_remainder(self) -> None:
        self.assertEqual(readAll(SIMPLE + b"12345678").remainder, b"12345678")
        self.assertEqual(readAll(SIMPLE).remainder, b"")

    def test_bareLineFeeds(self) -> None:
        """
        Lines may end in a bare LF, leniently, even mixed with CRLF.
        """
        bare = SIMPLE.replace(b"\r\n", b"\n")
        self.assertEqual(parse(bare), parse(SIMPLE))
        self.assertEqual(readAll(bare + b"rest").remainder, b"rest")
        mixed = b"GET / HTTP/1.1\nHost: a\r\n\nrest"
        reader = readAll(mixed)
        self.assertEqual(reader.remainder, b"rest")
        mixed = b"GET / HTTP/1.1\r\nHost: a\n\r\nrest"
        self.assertEqual(readAll(mixed).remainder, b"rest")

    def test_terminatorSplitAcrossReads(self) -> None:
        reader = RequestReader(maxHandshakeSize=HEAD_LIMIT)
        self.assertIsNone(reader.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r"))
        self.assertIsNotNone(reader.feed(b"\nrest"))
        self.assertEqual(reader.remainder, b"rest")

    def test_leadingBlankLines(self) -> None:
        """
        Empty lines before the request line are ignored (RFC 7230 3.5).
        """
        self.assertEqual(parse(b"\r\n\r\n" + SIMPLE), parse(SIMPLE))
        reader = RequestReader(maxHandshakeSize=HEAD_LIMIT)
        self.assertIsNone(reader.feed(b"\r\n"))
        self.assertIsNone(reader.feed(b"\n"))
        self.assertEqual(reader.feed(SIMPLE), parse(SIMPLE))

    def test_headReadsTheSameRequestAgain(self) -> None:
        """
        L{RequestReader.head} holds the head as received, without the blank
        lines skipped before it and without what followed it; a new reader
        fed those bytes reads an equal request.
        """
        for data in (SIMPLE, SIMPLE.replace(b"\r\n", b"\n"), b"\r\n\n" + SIMPLE):
            for size in (1, 7, len(data)):
                reader = RequestReader(maxHandshakeSize=HEAD_LIMIT)
                request = None
                for start in range(0, len(data), size):
                    request = reader.feed(data[start : start + size])
                    if request is not None:
                        break
                self.assertEqual(reader.head, data.lstrip(b"\r\n"))
                self.assertEqual(parse(reader.head), request)
        reader = readAll(SIMPLE + b"frames")
        self.assertEqual(reader.head, SIMPLE)
        self.assertEqual(RequestReader(maxHandshakeSize=HEAD_LIMIT).head, b"")

    def test_whitespaceAroundValues(self) -> None:
        request = parse(b"GET / HTTP/1.1\r\nHost:\t  a b \t\r\nEmpty:\r\n\r\n")
        self.assertEqual(request.headers.get("host"), "a b")
        self.assertEqual(request.headers.get("empty"), "")

    def test_obsText(self) -> None:
        """
        Octets above 0x7F in values are kept, decoded as ISO-8859-1.
        """
        request = parse(b"GET / HTTP/1.1\r\nCookie: n=caf\xc3\xa9\r\n\r\n")
        value = request.headers.get("cookie")
        assert value is not None
        self.assertEqual(value.encode("latin-1").decode("utf-8"), "n=caf\u00e9")

    def test_laterVersions(self) -> None:
        self.assertEqual(parse(b"GET / HTTP/1.2\r\n\r\n").httpVersion, "1.2")

    def test_noHeaders(self) -> None:
        request = parse(b"GET / HTTP/1.1\r\n\r\n")
        self.assertEqual(len(request.headers), 0)

    def test_absoluteForm(self) -> None:
        request = parse(b"GET http://example.com/chat?a=b HTTP/1.1\r\n\r\n")
        self.assertEqual(request.target, "http://example.com/chat?a=b")
        self.assertEqual(request.path, "/chat")
        self.assertEqual(request.query, "a=b")
        self.assertEqual(parse(b"GET http://example.com HTTP/1.1\r\n\r\n").path, "/")

    def test_pathStaysEncoded(self) -> None:
        request = parse(b"GET /a%20b?q=%3F HTTP/1.1\r\n\r\n")
        self.assertEqual(request.path, "/a%20b")
        self.assertEqual(request.query, "q=%3F")

    def test_emptyQuery(self) -> None:
        request = parse(b"GET /x? HTTP/1.1\r\n\r\n")
        self.assertEqual((request.path, request.query), ("/x", ""))

    def test_feedAfterRequest(self) -> None:
        """
        The reader reads one head; feeding it more is a programming error.
        """
        reader = readAll(SIMPLE)
        self.assertRaises(RuntimeError, reader.feed, b"more")


class RejectTests(SynchronousTestCase):
    """
    L{RequestReader} refuses malformed and oversized heads.
    """

    def assertRejected(self, data: bytes, status: int = 400, **limits: int) -> HandshakeError:
        error = self.assertRaises(HandshakeError, readAll, data, **limits)
        self.assertEqual(error.status, status, f"{data!r}: {error}")
        return error

    def test_badRequestLines(self) -> None:
        for line in [
            b"GET /",
            b"GET / HTTP/1.1 extra",
            b"GET  / HTTP/1.1",
            b"GET / HTTP/1.1 ",
            b" GET / HTTP/1.1",
            b"GET / http/1.1",
            b"GET / HTTP/11",
            b"GET / HTTP/1.x",
            b"G(T / HTTP/1.1",
            b"GET /\x7f HTTP/1.1",
            b"GET /caf\xc3\xa9 HTTP/1.1",
            b"GET /\x00 HTTP/1.1",
            b"\xff\xfe\xfd",
            b"GET\t/ HTTP/1.1",
            b"GET / HTTP/1.1\rX",
        ]:
            self.assertRejected(line + b"\r\nHost: a\r\n\r\n")

    def test_oldVersions(self) -> None:
        for version in (b"0.9", b"1.0"):
            error = self.assertRejected(b"GET / HTTP/" + version + b"\r\n\r\n")
            self.assertIn("HTTP/1.1", error.reason)

    def test_laterMajorVersion(self) -> None:
        self.assertRejected(b"GET / HTTP/2.0\r\n\r\n")

    def test_badHeaderLines(self) -> None:
        for line in [
            b"NoColon",
            b"Space : value",
            b"Tab\t: value",
            b": no name",
            b"Bad Name: value",
            b"Caf\xc3\xa9: value",
            b"Null: a\x00b",
            b"Bell: \x07",
            b"Delete: \x7f",
            b"Return: a\rb",
            b"Escape: \x1b[31m",
        ]:
            self.assertRejected(b"GET / HTTP/1.1\r\n" + line + b"\r\n\r\n")

    def test_obsFold(self) -> None:
        for fold in (b" folded", b"\tfolded"):
            error = self.assertRejected(b"GET / HTTP/1.1\r\nA: b\r\n" + fold + b"\r\n\r\n")
            self.assertIn("fold", error.reason)

    def test_foldedFirstLine(self) -> None:
        self.assertRejected(b"GET / HTTP/1.1\r\n folded\r\n\r\n")

    def test_headAtLimit(self) -> None:
        """
        A head of exactly C{maxHandshakeSize} bytes, terminator included, is read.
        """
        head = b"GET / HTTP/1.1\r\nX: \r\n\r\n"
        padded = head.replace(b"X: ", b"X: " + b"a" * (100 - len(head)))
        self.assertEqual(len(padded), 100)
        reader = readAll(padded + b"after", maxHandshakeSize=100)
        self.assertEqual(reader.remainder, b"after")

    def test_headOverLimit(self) -> None:
        head = b"GET / HTTP/1.1\r\nX: " + b"a" * 80 + b"\r\n\r\n"
        self.assertRejected(head, 431, maxHandshakeSize=len(head) - 1)

    def test_oversizeDetectedEarly(self) -> None:
        """
        Buffered bytes over the limit fail at once, before any blank line.
        """
        reader = RequestReader(maxHandshakeSize=100)
        self.assertIsNone(reader.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 81))
        error = self.assertRaises(HandshakeError, reader.feed, b"a")
        self.assertEqual(error.status, 431)

    def test_oversizeInOneRead(self) -> None:
        reader = RequestReader(maxHandshakeSize=1000)
        error = self.assertRaises(HandshakeError, reader.feed, b"a" * 10**6)
        self.assertEqual(error.status, 431)

    def test_skippedLinesCount(self) -> None:
        """
        Blank lines before the request count against the size limit.
        """
        reader = RequestReader(maxHandshakeSize=100)
        for _ in range(50):
            self.assertIsNone(reader.feed(b"\r\n"))
        error = self.assertRaises(HandshakeError, reader.feed, b"\r\n")
        self.assertEqual(error.status, 431)

    def test_maxHeaders(self) -> None:
        head = b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 10 + b"\r\n"
        self.assertEqual(readAll(head + b"x", maxHeaders=10).remainder, b"x")
        self.assertRejected(head, 431, maxHeaders=9)

    def test_headerFloodDetectedEarly(self) -> None:
        """
        Too many header lines fail before the blank line arrives.
        """
        reader = RequestReader(maxHandshakeSize=HEAD_LIMIT, maxHeaders=10)
        self.assertIsNone(reader.feed(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 10))
        error = self.assertRaises(HandshakeError, reader.feed, b"X: y\r\n")
        self.assertEqual(error.status, 431)

    def test_headerFloodOneByteAtATime(self) -> None:
        reader = RequestReader(maxHandshakeSize=HEAD_LIMIT)
        data = b"GET / HTTP/1.1\r\n" + b"a:\n" * 1000
        with self.assertRaises(HandshakeError) as caught:
            for index in range(len(data)):
                reader.feed(data[index : index + 1])
        self.assertEqual(caught.exception.status, 431)

    def test_deadAfterError(self) -> None:
        """
        After an error every feed raises the same error.
        """
        reader = RequestReader(maxHandshakeSize=HEAD_LIMIT)
        first = self.assertRaises(HandshakeError, reader.feed, b"BAD\r\n\r\n")
        second = self.assertRaises(HandshakeError, reader.feed, SIMPLE)
        self.assertIs(first, second)


class CookieTests(SynchronousTestCase):
    """
    L{Request.cookies} parses C{Cookie} headers leniently.
    """

    def cookies(self, *values: str) -> dict[str, str]:
        head = "GET / HTTP/1.1\r\n" + "".join(f"Cookie: {v}\r\n" for v in values)
        return parse((head + "\r\n").encode("latin-1")).cookies

    def test_simple(self) -> None:
        self.assertEqual(
            self.cookies("session=abc123; theme=dark"),
            {"session": "abc123", "theme": "dark"},
        )

    def test_none(self) -> None:
        self.assertEqual(parse(SIMPLE).cookies, {})

    def test_lenient(self) -> None:
        """
        Junk pieces are skipped instead of losing every cookie.
        """
        self.assertEqual(
            self.cookies('a=1;;junk; =nameless ;b="quoted"; c=x=y; d=; e=[1,2]'),
            {"a": "1", "b": "quoted", "c": "x=y", "d": "", "e": "[1,2]"},
        )

    def test_firstWins(self) -> None:
        self.assertEqual(self.cookies("a=1; a=2"), {"a": "1"})

    def test_severalHeaders(self) -> None:
        self.assertEqual(self.cookies("a=1", "b=2; a=3"), {"a": "1", "b": "2"})

    def test_cached(self) -> None:
        request = parse(b"GET / HTTP/1.1\r\nCookie: a=1\r\n\r\n")
        self.assertIs(request.cookies, request.cookies)

    def test_cacheIgnoredByEquality(self) -> None:
        first = parse(b"GET / HTTP/1.1\r\nCookie: a=1\r\n\r\n")
        second = parse(b"GET / HTTP/1.1\r\nCookie: a=1\r\n\r\n")
        self.assertEqual(first.cookies, {"a": "1"})
        self.assertEqual(first, second)


class RenderTests(SynchronousTestCase):
    """
    L{renderResponse} and L{renderRejection} write response heads.
    """

    def test_response(self) -> None:
        self.assertEqual(
            renderResponse(101, [("Upgrade", "websocket"), ("Connection", "Upgrade")]),
            b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"\r\n",
        )

    def test_bodyAndReason(self) -> None:
        self.assertEqual(
            renderResponse(101, [], b"body", "Custom Reason"),
            b"HTTP/1.1 101 Custom Reason\r\n\r\nbody",
        )

    def test_unknownStatus(self) -> None:
        self.assertEqual(renderResponse(599, []), b"HTTP/1.1 599 Unknown\r\n\r\n")

    def test_injection(self) -> None:
        """
        Nothing a caller passes can split the response.
        """
        self.assertRaises(ValueError, renderResponse, 200, [("A", "b\r\nEvil: 1")])
        self.assertRaises(ValueError, renderResponse, 200, [("A", "b\nc")])
        self.assertRaises(ValueError, renderResponse, 200, [("A\r\nB", "c")])
        self.assertRaises(ValueError, renderResponse, 200, [("A B", "c")])
        self.assertRaises(ValueError, renderResponse, 200, [], b"", "OK\r\nEvil: 1")

    def test_tabInValue(self) -> None:
        self.assertEqual(
            renderResponse(200, [("A", "b\tc")]), b"HTTP/1.1 200 OK\r\nA: b\tc\r\n\r\n"
        )

    def test_rejection(self) -> None:
        self.assertEqual(
            renderRejection(HandshakeError(400, "Sec-WebSocket-Key is missing")),
            b"HTTP/1.1 400 Bad Request\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: 29\r\n"
            b"Connection: close\r\n"
            b"\r\n"
            b"Sec-WebSocket-Key is missing\n",
        )

    def test_rejectionHeaders(self) -> None:
        """
        The error's headers are sent; a 426 also names C{Upgrade}.
        """
        error = HandshakeError(426, "no", [("Sec-WebSocket-Version", "13, 8, 7")])
        self.assertEqual(
            renderRejection(error),
            b"HTTP/1.1 426 Upgrade Required\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: 3\r\n"
            b"Connection: close\r\n"
            b"Upgrade: websocket\r\n"
            b"Sec-WebSocket-Version: 13, 8, 7\r\n"
            b"\r\n"
            b"no\n",
        )

    def test_rejectionUtf8Reason(self) -> None:
        response = renderRejection(HandshakeError(403, "caf\u00e9"))
        self.assertTrue(response.startswith(b"HTTP/1.1 403 Forbidden\r\n"))
        self.assertIn(b"Content-Length: 6\r\n", response)
        self.assertTrue(response.endswith(b"\r\n\r\ncaf\xc3\xa9\n"))

    def test_tooLarge(self) -> None:
        response = renderRejection(HandshakeError(431, "too big"))
        self.assertTrue(response.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"))


# RFC 7230 field-value: no whitespace at either end, no controls but HTAB.
_FIELD_VALUE = r"([\x21-\x7e\x80-\xff]([\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?"

_HEADISH = st.lists(
    st.one_of(
        st.sampled_from([b"GET / HTTP/1.1", b"Host: a", b"\r\n", b"\n", b"\r", b": ", b" ", b"\t"]),
        st.binary(max_size=20),
    ),
    max_size=30,
).map(b"".join)


class PropertyTests(SynchronousTestCase):
    """
    Properties over generated input.
    """

    @given(_HEADISH, st.lists(st.integers(min_value=1, max_value=64), max_size=40))
    def test_onlyHandshakeErrors(self, data: bytes, sizes: list[int]) -> None:
        """
        Any bytes in any chunking raise nothing but L{HandshakeError}, and a
        request always comes with the bytes after it.
        """
        reader = RequestReader(maxHandshakeSize=200, maxHeaders=5)
        pos = 0
        for size in [*sizes, len(data)]:
            piece = data[pos : pos + size]
            pos += size
            try:
                request = reader.feed(piece)
            except HandshakeError as error:
                self.assertIn(error.status, (400, 431))
                return
            if request is not None:
                self.assertLessEqual(len(request.headers), 5)
                self.assertTrue(data.endswith(reader.remainder + data[pos:]))
                self.assertIsInstance(request.cookies, dict)
                return

    @given(
        st.lists(
            st.tuples(
                st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", fullmatch=True),
                st.from_regex(_FIELD_VALUE, fullmatch=True),
            ),
            max_size=10,
        )
    )
    def test_headersRoundTrip(self, fields: list[tuple[str, str]]) -> None:
        """
        Headers written by L{renderResponse}'s rules are read back as sent.
        """
        head = b"GET / HTTP/1.1\r\n" + b"".join(
            f"{name}: {value}\r\n".encode("latin-1") for name, value in fields
        )
        request = parse(head + b"\r\n")
        self.assertEqual(request.headers.items(), fields)


SWITCH = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"\r\n"
)
REFUSAL = (
    b"HTTP/1.1 403 Forbidden\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 19\r\n"
    b"\r\n"
    b"origin not allowed\n"
)


def readResponse(data: bytes, size: int, **options: int) -> tuple[Response, bytes]:
    """
    Feed C{data} to a new L{ResponseReader} in chunks of C{size} bytes until a
    response comes out; if none does, end the stream.

    @return: the response and every byte after it.
    """
    reader = ResponseReader(**{"maxHandshakeSize": HEAD_LIMIT, **options})
    for start in range(0, len(data), size):
        response = reader.feed(data[start : start + size])
        if response is not None:
            return response, reader.remainder + data[start + size :]
    return reader.end(), b""


class ResponseReaderTests(SynchronousTestCase):
    """
    L{ResponseReader} reads a response head and the body that belongs to
    it, in any chunking.
    """

    def assertEveryChunking(self, data: bytes, after: bytes = b"", **options: int) -> Response:
        """
        C{data + after} in every chunk size gives the same response, and
        exactly C{after} following it.
        """
        expected, rest = readResponse(data + after, len(data + after), **options)
        self.assertEqual(rest, after)
        for size in range(1, len(data + after) + 1):
            self.assertEqual(
                readResponse(data + after, size, **options), (expected, after), f"size {size}"
            )
        return expected

    def test_switch(self) -> None:
        response = self.assertEveryChunking(SWITCH, b"\x81\x05Hello")
        self.assertEqual(response.status, 101)
        self.assertEqual(response.reason, "Switching Protocols")
        self.assertEqual(response.httpVersion, "1.1")
        self.assertEqual(
            response.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        )
        self.assertEqual(response.body, b"")

    def test_switchBody(self) -> None:
        """
        After a 101, exactly C{switchBodySize} bytes are the body: the Hixie-76
        answer.
        """
        head = b"HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\n\r\n"
        response = self.assertEveryChunking(
            head + b"8jKS'y:G*Co,Wxa-", b"\x00Hi\xff", switchBodySize=16
        )
        self.assertEqual(response.body, b"8jKS'y:G*Co,Wxa-")

    def test_switchBodyIncomplete(self) -> None:
        head = b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n\r\n"
        reader = ResponseReader(maxHandshakeSize=HEAD_LIMIT, switchBodySize=16)
        self.assertIsNone(reader.feed(head + b"8jKS'y"))
        error = self.assertRaises(InvalidHandshakeResponse, reader.end)
        self.assertIn("6 of the 16 bytes", error.reason)
        self.assertEqual(
            error.response, Response(101, "WebSocket Protocol Handshake", "1.1", Headers())
        )

    def test_contentLength(self) -> None:
        response = self.assertEveryChunking(REFUSAL, b"ignored")
        self.assertEqual(response.status, 403)
        self.assertEqual(response.body, b"origin not allowed\n")

    def test_contentLengthTruncated(self) -> None:
        """
        At most C{maxBodySize} bytes are kept, and the response is complete
        once they have come.
        """
        response = self.assertEveryChunking(REFUSAL[:-9], b"allowed\n", maxBodySize=10)
        self.assertEqual(response.body, b"origin not")

    def test_contentLengthEndsEarly(self) -> None:
        """
        A refusal cut short by the end of the stream keeps what came.
        """
        self.assertEqual(readResponse(REFUSAL[:-5], 1)[0].body, b"origin not all")

    def test_invalidContentLength(self) -> None:
        """
        A refusal with an unusable C{Content-Length} has no body: it is
        still reported at once.
        """
        for value in (b"x", b"-1", b"1, 2", b"\xd9\xa1"):
            head = b"HTTP/1.1 400 Bad Request\r\nContent-Length: " + value + b"\r\n\r\n"
            self.assertEqual(
                readResponse(head + b"zz", 100),
                (
                    Response(
                        400,
                        "Bad Request",
                        "1.1",
                        Headers([("Content-Length", value.decode("latin-1"))]),
                    ),
                    b"zz",
                ),
            )

    def test_repeatedContentLength(self) -> None:
        head = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\n"
        self.assertEqual(readResponse(head + b"abc", 1)[0].body, b"ab")

    def test_chunked(self) -> None:
        head = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
        body = b"5\r\nhello\r\n6;name=value\r\n world\r\n0\r\n"
        response = self.assertEveryChunking(head + body, b"Trailer: x\r\n\r\n")
        self.assertEqual(response.body, b"hello world")

    def test_chunkedBareLineFeeds(self) -> None:
        head = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
        response, _ = readResponse(head + b"3\nabc\nA\n0123456789\n0\n", 1)
        self.assertEqual(response.body, b"abc0123456789")

    def test_chunkedTruncated(self) -> None:
        head = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
        data = head + b"5\r\nhello\r\n6\r\n w"
        response = self.assertEveryChunking(data, b"orld\r\n0\r\n\r\n", maxBodySize=7)
        self.assertEqual(response.body, b"hello w")

    def test_chunkedBroken(self) -> None:
        """
        A chunked encoding that breaks ends the body where it breaks.
        """
        head = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
        for broken in (b"zz\r\n", b"5\r\nhelloX\r\n", b"11111111111111111\r\n"):
            response, _ = readResponse(head + b"2\r\nab\r\n" + broken + b"more", 1)
            self.assertEqual(response.body, b"ab" + (b"hello" if b"hello" in broken else b""))

    def test_chunkSizeLineBounded(self) -> None:
        head = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
        reader = ResponseReader(maxHandshakeSize=HEAD_LIMIT)
        self.assertIsNone(reader.feed(head + b"1;" + b"x" * (MAX_CHUNK_LINE - 2)))
        response = reader.feed(b"x")
        assert response is not None
        self.assertEqual(response.body, b"")

    def test_chunkedEndsEarly(self) -> None:
        head = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
        self.assertEqual(readResponse(head + b"5\r\nhel", 1)[0].body, b"hel")

    def test_untilClose(self) -> None:
        """
        Without a length, a refusal's body ends with the stream, or at
        C{maxBodySize}.
        """
        data = b"HTTP/1.0 500 Internal Server Error\r\nServer: old\r\n\r\nbroken"
        response, rest = readResponse(data, 1)
        self.assertEqual((response.httpVersion, response.body, rest), ("1.0", b"broken", b""))
        response = self.assertEveryChunking(data[:-2], b"en", maxBodySize=4)
        self.assertEqual(response.body, b"brok")

    def test_otherTransferEncoding(self) -> None:
        data = b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\nabc"
        self.assertEqual(readResponse(data, 1)[0].body, b"abc")

    def test_noBody(self) -> None:
        """
        1xx (but 101), 204 and 304 responses end with their head.
        """
        for status in (b"100 Continue", b"204 No Content", b"304 Not Modified"):
            data = b"HTTP/1.1 " + status + b"\r\nContent-Length: 5\r\n\r\n"
            response = self.assertEveryChunking(data, b"12345")
            self.assertEqual(response.body, b"")

    def test_emptyReason(self) -> None:
        """
        The reason phrase may be empty, and even its space missing.
        """
        for line in (b"HTTP/1.1 101 ", b"HTTP/1.1 101"):
            response, _ = readResponse(line + b"\r\n\r\n", 100)
            self.assertEqual((response.status, response.reason), (101, ""))

    def test_reasonObsText(self) -> None:
        response, _ = readResponse(b"HTTP/1.1 404 Introuv\xe9\r\nContent-Length: 0\r\n\r\n", 100)
        self.assertEqual(response.reason, "Introuv\xe9")

    def test_malformed(self) -> None:
        for head in (
            b"HTTP/1.1 1010 Too Long\r\n\r\n",
            b"HTTP/2 101 Switching\r\n\r\n",
            b"HTTP/2.0 101 Switching\r\n\r\n",
            b"http/1.1 101 Switching\r\n\r\n",
            b"HTTP/1.1 101 Switching\x00\r\n\r\n",
            b"ICY 200 OK\r\n\r\n",
            b"\r\nHTTP/1.1 101 Switching\r\n\r\n",
            b"HTTP/1.1 101 Switching\r\nUpgrade : websocket\r\n\r\n",
            b"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\n folded\r\n\r\n",
        ):
            reader = ResponseReader(maxHandshakeSize=HEAD_LIMIT)
            error = self.assertRaises(InvalidHandshakeResponse, reader.feed, head)
            self.assertIsNone(error.response)
            self.assertIs(self.assertRaises(InvalidHandshakeResponse, reader.feed, b"x"), error)

    def test_headAtLimit(self) -> None:
        head = SWITCH.replace(b"Connection: Upgrade", b"Connection: Upgrade" + b" " * 10)
        reader = ResponseReader(maxHandshakeSize=len(head))
        self.assertIsNotNone(reader.feed(head))

    def test_headOverLimit(self) -> None:
        """
        A head one byte too long fails, however it arrives: at once when the
        bytes without a blank line pass the limit.
        """
        reader = ResponseReader(maxHandshakeSize=len(SWITCH) - 1)
        self.assertRaises(InvalidHandshakeResponse, reader.feed, SWITCH)
        reader = ResponseReader(maxHandshakeSize=100)
        self.assertIsNone(reader.feed(b"HTTP/1.1 101 x\r\nX: " + b"a" * 81))
        error = self.assertRaises(InvalidHandshakeResponse, reader.feed, b"a")
        self.assertEqual(error.reason, "response head larger than 100 bytes")

    def test_oversizeOneByteAtATime(self) -> None:
        reader = ResponseReader(maxHandshakeSize=HEAD_LIMIT)
        with self.assertRaises(InvalidHandshakeResponse):
            for _ in range(20000):
                reader.feed(b"a")

    def test_maxHeaders(self) -> None:
        head = b"HTTP/1.1 101 x\r\n" + b"X: y\r\n" * 10 + b"\r\n"
        self.assertIsNotNone(ResponseReader(maxHandshakeSize=HEAD_LIMIT, maxHeaders=10).feed(head))
        reader = ResponseReader(maxHandshakeSize=HEAD_LIMIT, maxHeaders=9)
        error = self.assertRaises(InvalidHandshakeResponse, reader.feed, head)
        self.assertEqual(error.reason, "more than 9 header fields")

    def test_leadingBlankLinesAreNotSkipped(self) -> None:
        reader = ResponseReader(maxHandshakeSize=HEAD_LIMIT)
        self.assertRaises(InvalidHandshakeResponse, reader.feed, b"\r\n" + SWITCH)

    def test_endBeforeHead(self) -> None:
        for data in (b"", b"HTTP/1.1 101 Switching Protocols\r\n"):
            reader = ResponseReader(maxHandshakeSize=HEAD_LIMIT)
            reader.feed(data)
            error = self.assertRaises(InvalidHandshakeResponse, reader.end)
            self.assertEqual(error.reason, "the connection closed before the response head ended")

    def test_doneMeansDone(self) -> None:
        reader = ResponseReader(maxHandshakeSize=HEAD_LIMIT)
        self.assertIsNotNone(reader.feed(SWITCH))
        self.assertRaises(RuntimeError, reader.feed, b"")
        self.assertRaises(RuntimeError, reader.end)

    def test_head(self) -> None:
        reader = ResponseReader(maxHandshakeSize=HEAD_LIMIT)
        reader.feed(REFUSAL[:-3])
        self.assertEqual(reader.head, REFUSAL[: REFUSAL.index(b"\r\n\r\n") + 4])

    @given(_HEADISH, st.lists(st.integers(min_value=1, max_value=64), max_size=40))
    def test_onlyInvalidHandshakeResponse(self, data: bytes, sizes: list[int]) -> None:
        """
        Any bytes in any chunking raise nothing but
        L{InvalidHandshakeResponse}, and a response always comes with the
        bytes after it.
        """
        reader = ResponseReader(maxHandshakeSize=200, maxHeaders=5, maxBodySize=50)
        pos = 0
        try:
            for size in [*sizes, len(data)]:
                piece = data.replace(b"GET / HTTP/1.1", b"HTTP/1.1 404 x")[pos : pos + size]
                pos += size
                response = reader.feed(piece)
                if response is not None:
                    self.assertLessEqual(len(response.headers), 5)
                    self.assertLessEqual(len(response.body), 50)
                    return
            reader.end()
        except InvalidHandshakeResponse as error:
            self.assertIsInstance(error.reason, str)


class RenderRequestTests(SynchronousTestCase):
    """
    L{renderRequest} writes request heads that L{RequestReader} reads back.
    """

    def test_request(self) -> None:
        self.assertEqual(
            renderRequest("/chat?room=1", [("Host", "example.com"), ("X-A", "b")]),
            b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nX-A: b\r\n\r\n",
        )

    def test_method(self) -> None:
        self.assertEqual(renderRequest("*", [], method="OPTIONS"), b"OPTIONS * HTTP/1.1\r\n\r\n")

    def test_refused(self) -> None:
        for target, method, headers in [
            ("/a b", "GET", []),
            ("", "GET", []),
            ("/caf\xe9", "GET", []),
            ("/", "G T", []),
            ("/", "GET", [("Bad Name", "x")]),
            ("/", "GET", [("X", "a\r\nInjected: yes")]),
        ]:
            self.assertRaises(ValueError, renderRequest, target, headers, method)

    def test_isToken(self) -> None:
        self.assertTrue(isToken("chat.v2+json"))
        for text in ("", "a b", "a,b", "caf\xe9", '"q"'):
            self.assertFalse(isToken(text))

    @given(
        st.from_regex(r"/[\x21-\x7e]*", fullmatch=True),
        st.lists(
            st.tuples(
                st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", fullmatch=True),
                st.from_regex(_FIELD_VALUE, fullmatch=True),
            ),
            max_size=10,
        ),
    )
    def test_roundTrip(self, target: str, fields: list[tuple[str, str]]) -> None:
        request = parse(renderRequest(target, fields))
        self.assertEqual((request.target, request.headers.items()), (target, fields))
