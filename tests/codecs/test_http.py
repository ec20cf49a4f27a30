"""
Tests for L{ratchet_tx.websocket.codecs.http}.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs.errors import HandshakeError
from ratchet_tx.websocket.codecs.http import (
    Headers,
    Request,
    RequestReader,
    renderRejection,
    renderResponse,
)

SIMPLE = b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nX-Multi: one\r\nx-multi: two\r\n\r\n"


def readAll(data: bytes, **limits: int) -> RequestReader:
    """
    Feed C{data} to a new reader in one piece and return the reader.
    """
    reader = RequestReader(**limits)
    reader.feed(data)
    return reader


def parse(data: bytes) -> Request:
    request = RequestReader().feed(data)
    assert request is not None
    return request


def feedInChunks(data: bytes, size: int) -> tuple[Request | None, bytes]:
    """
    Feed C{data} in chunks of C{size} bytes until a request comes out.

    @return: the request (or C{None}) and every byte after its head: the
        reader's remainder and the chunks not fed.
    """
    reader = RequestReader()
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
        reader = RequestReader()
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
        reader = RequestReader()
        self.assertIsNone(reader.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r"))
        self.assertIsNotNone(reader.feed(b"\nrest"))
        self.assertEqual(reader.remainder, b"rest")

    def test_leadingBlankLines(self) -> None:
        """
        Empty lines before the request line are ignored (RFC 7230 3.5).
        """
        self.assertEqual(parse(b"\r\n\r\n" + SIMPLE), parse(SIMPLE))
        reader = RequestReader()
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
                reader = RequestReader()
                request = None
                for start in range(0, len(data), size):
                    request = reader.feed(data[start : start + size])
                    if request is not None:
                        break
                self.assertEqual(reader.head, data.lstrip(b"\r\n"))
                self.assertEqual(parse(reader.head), request)
        reader = readAll(SIMPLE + b"frames")
        self.assertEqual(reader.head, SIMPLE)
        self.assertEqual(RequestReader().head, b"")

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
        A head of exactly C{maxHeadSize} bytes, terminator included, is read.
        """
        head = b"GET / HTTP/1.1\r\nX: \r\n\r\n"
        padded = head.replace(b"X: ", b"X: " + b"a" * (100 - len(head)))
        self.assertEqual(len(padded), 100)
        reader = readAll(padded + b"after", maxHeadSize=100)
        self.assertEqual(reader.remainder, b"after")

    def test_headOverLimit(self) -> None:
        head = b"GET / HTTP/1.1\r\nX: " + b"a" * 80 + b"\r\n\r\n"
        self.assertRejected(head, 431, maxHeadSize=len(head) - 1)

    def test_oversizeDetectedEarly(self) -> None:
        """
        Buffered bytes over the limit fail at once, before any blank line.
        """
        reader = RequestReader(maxHeadSize=100)
        self.assertIsNone(reader.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 81))
        error = self.assertRaises(HandshakeError, reader.feed, b"a")
        self.assertEqual(error.status, 431)

    def test_oversizeInOneRead(self) -> None:
        reader = RequestReader(maxHeadSize=1000)
        error = self.assertRaises(HandshakeError, reader.feed, b"a" * 10**6)
        self.assertEqual(error.status, 431)

    def test_skippedLinesCount(self) -> None:
        """
        Blank lines before the request count against the size limit.
        """
        reader = RequestReader(maxHeadSize=100)
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
        reader = RequestReader(maxHeaders=10)
        self.assertIsNone(reader.feed(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 10))
        error = self.assertRaises(HandshakeError, reader.feed, b"X: y\r\n")
        self.assertEqual(error.status, 431)

    def test_headerFloodOneByteAtATime(self) -> None:
        reader = RequestReader()
        data = b"GET / HTTP/1.1\r\n" + b"a:\n" * 1000
        with self.assertRaises(HandshakeError) as caught:
            for index in range(len(data)):
                reader.feed(data[index : index + 1])
        self.assertEqual(caught.exception.status, 431)

    def test_deadAfterError(self) -> None:
        """
        After an error every feed raises the same error.
        """
        reader = RequestReader()
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
        reader = RequestReader(maxHeadSize=200, maxHeaders=5)
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
