# -*- test-case-name: tests.codecs.test_http -*-
"""
Just enough HTTP/1.1 to read an opening handshake and answer it, on either
side.

Theory of operation
===================

A WebSocket connection starts as one HTTP request head with no body, so this
module reads exactly that: L{RequestReader.feed} buffers bytes until the blank
line that ends the head, parses the head in one pass into a L{Request}, and
keeps whatever followed the blank line in L{RequestReader.remainder} (for a
Hixie-76 client, the eight bytes of the challenge and perhaps its first frame).

The buffer is bounded.  As soon as more than C{maxHandshakeSize} bytes (or more than
C{maxHeaders} header lines) are buffered without a complete head, the reader
raises L{HandshakeError} with status 431; a head that breaks the grammar of RFC
7230 section 3 raises it with status 400.  Lines may end in CRLF or, leniently,
in a bare LF; anything else is strict: no folded header lines, no whitespace
before a header's colon, no control characters, and nothing but ASCII in the
request line and header names.  Header values may carry octets above 0x7F
(RFC 7230 C{obs-text}); they are decoded as ISO-8859-1, so no byte is lost.

Going the other way, L{renderResponse} and L{renderRejection} turn a status and
headers into the bytes of a response head.

A client does the mirror image: L{renderRequest} writes its request head, and
L{ResponseReader} reads the server's answer into a L{Response}, with the same
head-finding code, strictness and bounds as L{RequestReader} (a head past
C{maxHandshakeSize} or C{maxHeaders}, or a malformed one, raises
L{InvalidHandshakeResponse}), and then the body where there is one: the
Hixie-76 challenge's 16-byte answer after a 101, or a refusal's explanation,
bounded by C{maxBodySize}.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

from .errors import HandshakeError, InvalidHandshakeResponse

#: Default bound on the number of header lines in a request head.
DEFAULT_MAX_HEADERS = 100

#: Default bound on the part of a refusal's body a client keeps.
DEFAULT_MAX_BODY_SIZE = 16384

#: The lowest HTTP version the reader accepts, as (major, minor).
MINIMUM_HTTP_VERSION = (1, 1)

_BAD_REQUEST = HTTPStatus.BAD_REQUEST.value
_HEAD_TOO_LARGE = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE.value

#: The HTTP version written in every request and response.
_RESPONSE_PROTOCOL = "HTTP/1.1"

#: Bytes that end a head: a line terminator followed by an empty line.
_HEAD_TERMINATORS = (b"\n\r\n", b"\n\n")

#: How far back a new search for a terminator must start, so that a
#: terminator split across two reads is still found.
_TERMINATOR_OVERLAP = max(len(t) for t in _HEAD_TERMINATORS) - 1

_LINE_END = b"\n"
_CARRIAGE_RETURN = b"\r"
_BLANK_LINE_BYTES = b"\r\n"
_FOLD_STARTS = (b" ", b"\t")
_OPTIONAL_WHITESPACE = b" \t"

# RFC 7230 section 3.2.6: token = 1*tchar.
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"

_STATUS_LINE = re.compile(
    rb"HTTP/(?P<major>[0-9])\.(?P<minor>[0-9]) (?P<status>[0-9]{3})"
    rb"(?: (?P<reason>[\t\x20-\x7e\x80-\xff]*))?"
)

_REQUEST_LINE = re.compile(
    rb"(?P<method>" + _TOKEN + rb") (?P<target>[\x21-\x7e]+) "
    rb"HTTP/(?P<major>[0-9])\.(?P<minor>[0-9])"
)

# The value is checked here only for forbidden octets (controls other than
# HTAB, and DEL); its surrounding whitespace is stripped afterwards.
_HEADER_LINE = re.compile(rb"(?P<name>" + _TOKEN + rb"):(?P<value>[\t\x20-\x7e\x80-\xff]*)")
# Every header line at once (the fast path): the same rule as _HEADER_LINE,
# each line ending in LF or CRLF.
_HEADER_BLOCK = re.compile(rb"(?:" + _TOKEN + rb":[\t\x20-\x7e\x80-\xff]*?\r?\n)*")
# One field of a block that _HEADER_BLOCK matched, decoded as ISO-8859-1:
# its name, and its value without the whitespace around it.
_FIELD = re.compile(r"([^:]+):[ \t]*(.*?)[ \t]*\r?\n")

_RENDER_TOKEN = re.compile(_TOKEN.decode("ascii"))
_RENDER_TARGET = re.compile(r"[\x21-\x7e]+")
_RENDER_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

_COOKIE_SEPARATOR = ";"
_COOKIE_ASSIGN = "="
_QUOTE = '"'
_QUERY_SEPARATOR = "?"
_ORIGIN_FORM_START = "/"


class Headers:
    """
    The header fields of a request: an immutable, case-insensitive multimap.

    Names keep the case they arrived in (see L{items}) but are looked up
    without regard to case.  A name that occurs several times maps to all of
    its values, in order.
    """

    __slots__ = ("_items", "_index")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        """
        @param items: C{(name, value)} pairs in the order they arrived.
        """
        self._items = tuple(items)
        index: dict[str, list[str]] = {}
        for name, value in self._items:
            index.setdefault(name.lower(), []).append(value)
        self._index = index

    def get(self, name: str, default: str | None = None) -> str | None:
        """
        The value of the field C{name}, or C{default} if it is absent.

        Several occurrences are joined with C{", "}, as RFC 7230 section 3.2.2
        allows for list-valued fields.
        """
        values = self._index.get(name.lower())
        if values is None:
            return default
        if len(values) == 1:
            return values[0]
        return ", ".join(values)

    def getAll(self, name: str) -> list[str]:
        """
        Every value of the field C{name}, in order; empty if it is absent.
        """
        return list(self._index.get(name.lower(), ()))

    def items(self) -> list[tuple[str, str]]:
        """
        Every C{(name, value)} pair, with names in their original case.
        """
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Headers({list(self._items)!r})"


@dataclass(frozen=True, slots=True)
class Request:
    """
    A parsed request head.

    @ivar method: the method, e.g. C{"GET"} (case-sensitive, as on the wire).
    @ivar target: the request-target exactly as sent, e.g. C{"/chat?room=1"}.
    @ivar path: the target's path, still percent-encoded, e.g. C{"/chat"}.
    @ivar query: the target's query without its C{"?"}, or C{""}.
    @ivar httpVersion: the protocol version, e.g. C{"1.1"}.
    @ivar headers: the header fields.
    """

    method: str
    target: str
    path: str
    query: str
    httpVersion: str
    headers: Headers
    _cookies: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def cookies(self) -> dict[str, str]:
        """
        The cookies of the C{Cookie} header fields, by name.

        Parsed leniently: pieces without C{"="} are skipped, surrounding
        double quotes are removed from values, and the first of several
        cookies with one name wins (RFC 6265 section 5.4 sends the most
        specific first).  Computed once, then cached.
        """
        cookies = self._cookies
        if cookies is None:
            cookies = parseCookies(self.headers.getAll("cookie"))
            object.__setattr__(self, "_cookies", cookies)
        return cookies


def parseCookies(values: Iterable[str]) -> dict[str, str]:
    """
    Parse C{Cookie} header values (C{name=value; name2=value2}) leniently.

    @param values: the values of every C{Cookie} field of a request.
    @return: a mapping of cookie names to values; see L{Request.cookies}.
    """
    cookies: dict[str, str] = {}
    for value in values:
        for piece in value.split(_COOKIE_SEPARATOR):
            name, assign, cookie = piece.partition(_COOKIE_ASSIGN)
            name = name.strip()
            if not assign or not name:
                continue
            cookie = cookie.strip()
            if len(cookie) > 1 and cookie[0] == _QUOTE == cookie[-1]:
                cookie = cookie[1:-1]
            cookies.setdefault(name, cookie)
    return cookies


def _splitTarget(target: str) -> tuple[str, str]:
    """
    Split a request-target into its path and query.

    @return: C{(path, query)}; the absolute form (C{http://host/path?q}) is
        reduced to its path too, and C{"*"} is its own path.
    """
    if not target.startswith(_ORIGIN_FORM_START):
        try:
            parts = urlsplit(target)
        except ValueError:  # e.g. "http://[::1" or "ws://[x]/"
            raise _badRequest("malformed request target") from None
        if parts.scheme and parts.netloc:
            return parts.path or _ORIGIN_FORM_START, parts.query
    path, _, query = target.partition(_QUERY_SEPARATOR)
    return path, query


def _badRequest(reason: str) -> HandshakeError:
    return HandshakeError(_BAD_REQUEST, reason)


class _HeadLimitExceeded(Exception):
    """
    A head grew past a reader's limits; each reader turns this into its own
    error (L{HandshakeError} 431 for a request, L{InvalidHandshakeResponse}
    for a response).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _HeadBuffer:
    """
    The bytes of a stream up to the blank line that ends an HTTP head, bounded.

    Shared by L{RequestReader} and L{ResponseReader}: each feeds it the reads
    until it returns a complete head, then parses that head its own way.  It
    searches only the bytes not yet searched, so a head arriving one byte at
    a time costs linear time, and checks the limits on every call, so a peer
    cannot make it hold more than the limit plus one read.
    """

    __slots__ = ("_buffer", "_skipBlank", "_skipped", "_scanned", "_lineEnds")

    def __init__(self, skipBlankLines: bool) -> None:
        """
        @param skipBlankLines: whether to drop empty lines before the head
            (RFC 7230 section 3.5 lets a server do so before a request).
        """
        self._buffer = bytearray()
        self._skipBlank = skipBlankLines
        # Counted against the size limit: blank lines skipped before the head.
        self._skipped = 0
        # How much of the buffer has been searched for a terminator, and how
        # many line ends it held.
        self._scanned = 0
        self._lineEnds = 0

    def __len__(self) -> int:
        """
        How many bytes are buffered.
        """
        return len(self._buffer)

    def feed(
        self, data: bytes, maxSize: int, maxHeaders: int, what: str
    ) -> tuple[bytes, int, bytes] | None:
        """
        Add the next bytes of the stream.

        @param maxSize: the largest head accepted, its blank line included.
        @param maxHeaders: the most header lines accepted.
        @param what: C{"request"} or C{"response"}, for the error's reason.
        @return: C{None} until the head is complete; then the head as
            received (its terminating blank line included), the offset of
            its last line end (where the header block ends), and the bytes
            after it.  The buffer is then empty.
        @raise _HeadLimitExceeded: a limit was passed.
        """
        buffer = self._buffer
        buffer += data
        if self._scanned == 0 and self._skipBlank:
            blank = len(buffer) - len(buffer.lstrip(_BLANK_LINE_BYTES))
            if blank:
                del buffer[:blank]
                self._skipped += blank
        found = self._findTerminator()
        if found is None:
            if self._skipped + len(buffer) > maxSize:
                raise _HeadLimitExceeded(f"{what} head larger than {maxSize} bytes")
            self._lineEnds += buffer.count(_LINE_END, self._scanned)
            self._scanned = len(buffer)
            # Every line end but the first line's ends a header line.
            if self._lineEnds - 1 > maxHeaders:
                raise _tooManyHeaders(maxHeaders)
            return None
        lastLineEnd, headEnd = found
        if self._skipped + headEnd > maxSize:
            raise _HeadLimitExceeded(f"{what} head larger than {maxSize} bytes")
        head = bytes(buffer[:headEnd])
        if head.count(_LINE_END, 0, lastLineEnd) > maxHeaders:
            raise _tooManyHeaders(maxHeaders)
        rest = bytes(buffer[headEnd:])
        self._buffer = bytearray()
        return head, lastLineEnd, rest

    def _findTerminator(self) -> tuple[int, int] | None:
        """
        Look for the end of the head in the bytes not yet searched.

        @return: C{None}, or the offsets of the last header line's line end
            and of the first byte after the head.
        """
        buffer = self._buffer
        start = max(self._scanned - _TERMINATOR_OVERLAP, 0)
        best: tuple[int, int] | None = None
        for terminator in _HEAD_TERMINATORS:
            at = buffer.find(terminator, start)
            if at != -1 and (best is None or at < best[0]):
                best = (at, at + len(terminator))
        return best


def _tooManyHeaders(maxHeaders: int) -> _HeadLimitExceeded:
    return _HeadLimitExceeded(f"more than {maxHeaders} header fields")


def _parseFields(
    head: bytes, firstLineEnd: int, malformed: Callable[[str], Exception]
) -> list[tuple[str, str]]:
    """
    Parse the header lines of a complete head.

    @param head: the head without its final line end.
    @param firstLineEnd: the offset of the request or status line's line
        end, or C{len(head)} if the head is that line alone.
    @param malformed: makes the error to raise for a bad line.
    @return: C{(name, value)} pairs in order, values without the whitespace
        around them, decoded as ISO-8859-1.
    """
    if firstLineEnd == len(head):
        return []
    block = head[firstLineEnd + 1 :] + _LINE_END
    if _HEADER_BLOCK.fullmatch(block) is not None:
        # Every line is well formed (names are ASCII tokens): split them all
        # at once.
        return _FIELD.findall(block.decode("latin-1"))
    # Find the line at fault.
    fields = []
    for raw in head.split(_LINE_END)[1:]:
        line = _stripCarriageReturn(raw)
        if line.startswith(_FOLD_STARTS):
            raise malformed("folded header lines are not allowed")
        header = _HEADER_LINE.fullmatch(line)
        if header is None:
            raise malformed("malformed header line")
        fields.append(
            (
                header["name"].decode("ascii"),
                header["value"].strip(_OPTIONAL_WHITESPACE).decode("latin-1"),
            )
        )
    return fields


def _firstLineEnd(head: bytes) -> int:
    end = head.find(_LINE_END)
    return len(head) if end == -1 else end


class RequestReader:
    """
    Read one request head from a stream of bytes.

    Feed it every read until it returns a L{Request}; then L{remainder} holds
    the bytes that came after the head.  A reader that has raised stays
    broken: every later L{feed} raises the same error.

    @ivar maxHandshakeSize: the largest head accepted, in bytes, its terminating
        blank line included.
    @ivar maxHeaders: the most header lines accepted.
    @ivar remainder: once L{feed} has returned a L{Request}, the bytes that
        followed the head; C{b""} until then.
    @ivar head: once L{feed} has returned a L{Request}, the bytes of its head
        as received (blank lines before it skipped, its terminating blank
        line included): feeding them to a new reader reads the same request.
    """

    def __init__(
        self,
        *,
        maxHandshakeSize: int,
        maxHeaders: int = DEFAULT_MAX_HEADERS,
    ) -> None:
        self.maxHandshakeSize = maxHandshakeSize
        self.maxHeaders = maxHeaders
        self.remainder = b""
        self.head = b""
        self._buffer = _HeadBuffer(skipBlankLines=True)
        self._request: Request | None = None
        self._error: HandshakeError | None = None

    def feed(self, data: bytes) -> Request | None:
        """
        Add bytes read from the peer.

        @param data: the next bytes of the stream.
        @return: the L{Request} once its head is complete, else C{None}.
        @raise HandshakeError: 431 if the head grows past L{maxHandshakeSize} or
            L{maxHeaders}, 400 if it is malformed.
        @raise RuntimeError: if called again after returning a L{Request}
            (the rest of the stream is no longer HTTP).
        """
        if self._error is not None:
            raise self._error
        if self._request is not None:
            raise RuntimeError("the request head was already read")
        try:
            found = self._buffer.feed(data, self.maxHandshakeSize, self.maxHeaders, "request")
            if found is None:
                return None
            head, lastLineEnd, rest = found
            request = self._parse(head[:lastLineEnd])
        except _HeadLimitExceeded as exceeded:
            self._error = HandshakeError(_HEAD_TOO_LARGE, exceeded.reason)
        except HandshakeError as error:
            self._error = error
        else:
            self.head = head
            self.remainder = rest
            self._request = request
            return request
        self._buffer = _HeadBuffer(skipBlankLines=True)
        raise self._error

    def _parse(self, head: bytes) -> Request:
        """
        Parse a complete head, without its final line end.
        """
        requestLineEnd = _firstLineEnd(head)
        match = _REQUEST_LINE.fullmatch(_stripCarriageReturn(head[:requestLineEnd]))
        if match is None:
            raise _badRequest("malformed request line")
        version = (int(match["major"]), int(match["minor"]))
        if version < MINIMUM_HTTP_VERSION or version[0] > MINIMUM_HTTP_VERSION[0]:
            raise _badRequest("HTTP/1.1 required")
        fields = _parseFields(head, requestLineEnd, _badRequest)
        target = match["target"].decode("ascii")
        path, query = _splitTarget(target)
        return Request(
            method=match["method"].decode("ascii"),
            target=target,
            path=path,
            query=query,
            httpVersion=f"{version[0]}.{version[1]}",
            headers=Headers(fields),
        )


@dataclass(frozen=True, slots=True)
class Response:
    """
    A parsed response: its head, and its body where it has one.

    @ivar status: the status code, e.g. C{101}.
    @ivar reason: the reason phrase as sent (possibly empty).
    @ivar httpVersion: the protocol version, e.g. C{"1.1"}.
    @ivar headers: the header fields.
    @ivar body: the body read with it (see L{ResponseReader}).
    """

    status: int
    reason: str
    httpVersion: str
    headers: Headers
    body: bytes = b""


# How a response's body ends (RFC 7230 section 3.3.3).
_NO_BODY = 0  # the head alone is the response
_FIXED = 1  # after a known number of bytes
_CHUNKED = 2  # after the last chunk
_UNTIL_CLOSE = 3  # when the connection ends

# Chunked body states.
_CHUNK_SIZE = 0  # reading a chunk-size line
_CHUNK_DATA = 1  # reading a chunk's data
_CHUNK_END = 2  # reading the line end after a chunk's data

#: Statuses whose responses never have a body (RFC 7230 section 3.3.3).
_BODYLESS_STATUSES = frozenset({HTTPStatus.NO_CONTENT.value, HTTPStatus.NOT_MODIFIED.value})
_SWITCHING_PROTOCOLS = HTTPStatus.SWITCHING_PROTOCOLS.value
_INFORMATIONAL = range(100, 200)
_CHUNKED_CODING = "chunked"

#: The longest chunk-size line read (hex size and chunk extensions); past
#: it, the body ends there.
MAX_CHUNK_LINE = 1024

#: The most hex digits of a chunk size: sizes up to 2**64 - 1.
_MAX_CHUNK_DIGITS = 16
_CHUNK_SIZE_RE = re.compile(
    rb"[ \t]*([0-9A-Fa-f]{1,%d})[ \t]*(?:;[^\r\n]*)?\r?" % _MAX_CHUNK_DIGITS
)


class ResponseReader:
    """
    Read one response to an opening handshake from a stream of bytes: its
    head, then its body where it has one.

    Feed it every read until it returns a L{Response}; then L{remainder}
    holds the bytes that came after the response (after a 101: the first
    frames).  If the connection ends first, call L{end}.  A reader that has
    raised stays broken: every later call raises the same error.

    The head is read with the strictness and bounds of L{RequestReader}.
    What follows it depends on the status:

        - 101 (the switch to WebSocket): exactly L{switchBodySize} bytes,
          the Hixie-76 challenge's answer (16 bytes) or nothing;
        - any other 1xx, 204 and 304: nothing;
        - anything else (a refusal): the body up to its C{Content-Length},
          or to its last chunk with C{Transfer-Encoding: chunked}, or until
          the connection ends (L{end}) without either; at most
          L{maxBodySize} bytes are kept, and the response is complete as
          soon as they have arrived.  A refusal's body only explains the
          refusal, so an invalid C{Content-Length} or chunked encoding
          ends it where it breaks rather than failing.

    @ivar maxHandshakeSize: the largest head accepted, in bytes, its
        terminating blank line included.
    @ivar maxHeaders: the most header lines accepted.
    @ivar maxBodySize: the most bytes of a refusal's body kept.
    @ivar switchBodySize: how many bytes follow the head of a 101.
    @ivar remainder: once L{feed} has returned a L{Response}, the bytes that
        followed it; C{b""} until then.
    @ivar head: once the head is complete, its bytes as received.
    """

    def __init__(
        self,
        *,
        maxHandshakeSize: int,
        maxHeaders: int = DEFAULT_MAX_HEADERS,
        maxBodySize: int = DEFAULT_MAX_BODY_SIZE,
        switchBodySize: int = 0,
    ) -> None:
        """
        @param maxHandshakeSize: see L{maxHandshakeSize}; a longer head
            raises L{InvalidHandshakeResponse}.
        @param maxHeaders: see L{maxHeaders}; more raises it too.
        @param maxBodySize: see L{maxBodySize}.
        @param switchBodySize: see L{switchBodySize}: 16 for a Hixie-76
            client, else 0.
        """
        self.maxHandshakeSize = maxHandshakeSize
        self.maxHeaders = maxHeaders
        self.maxBodySize = maxBodySize
        self.switchBodySize = switchBodySize
        self.remainder = b""
        self.head = b""
        self._buffer: _HeadBuffer | None = _HeadBuffer(skipBlankLines=False)
        self._error: InvalidHandshakeResponse | None = None
        self._done = False
        # Once the head is read: the response without its body, how its body
        # ends, and the body so far.
        self._response: Response | None = None
        self._framing = _NO_BODY
        self._body = bytearray()
        self._wanted = 0  # _FIXED: bytes of body still to keep
        self._chunkState = _CHUNK_SIZE
        self._chunkLine = b""
        self._chunkLeft = 0

    def feed(self, data: bytes) -> Response | None:
        """
        Add bytes read from the server.

        @param data: the next bytes of the stream.
        @return: the L{Response} once it is complete, else C{None}.
        @raise InvalidHandshakeResponse: the head is malformed, or larger
            than L{maxHandshakeSize} or L{maxHeaders}.
        @raise RuntimeError: if called after returning a L{Response}.
        """
        if self._error is not None:
            raise self._error
        if self._done:
            raise RuntimeError("the response was already read")
        buffer = self._buffer
        if buffer is not None:
            try:
                found = buffer.feed(data, self.maxHandshakeSize, self.maxHeaders, "response")
                if found is None:
                    return None
                head, lastLineEnd, data = found
                self._response = self._parse(head[:lastLineEnd])
            except _HeadLimitExceeded as exceeded:
                self._error = InvalidHandshakeResponse(exceeded.reason)
            except InvalidHandshakeResponse as error:
                self._error = error
            else:
                self.head = head
                self._buffer = None
                self._startBody()
                return self._receiveBody(data)
            self._buffer = None
            raise self._error
        return self._receiveBody(data)

    def end(self) -> Response:
        """
        The connection ended: complete a refusal whose body ran until then.

        @return: the response, with the body that arrived.
        @raise InvalidHandshakeResponse: the head was incomplete, or a 101's
            L{switchBodySize} bytes were.
        @raise RuntimeError: if L{feed} already returned the response.
        """
        if self._error is not None:
            raise self._error
        if self._done:
            raise RuntimeError("the response was already read")
        response = self._response
        if response is None:
            self._error = InvalidHandshakeResponse(
                "the connection closed before the response head ended"
            )
        elif response.status == _SWITCHING_PROTOCOLS:
            self._error = InvalidHandshakeResponse(
                f"the connection closed after {len(self._body)} of the "
                f"{self.switchBodySize} bytes that follow the 101",
                response,
            )
        else:
            return self._complete(b"")
        raise self._error

    def _parse(self, head: bytes) -> Response:
        """
        Parse a complete head, without its final line end.
        """
        statusLineEnd = _firstLineEnd(head)
        match = _STATUS_LINE.fullmatch(_stripCarriageReturn(head[:statusLineEnd]))
        if match is None:
            raise InvalidHandshakeResponse("malformed status line")
        if match["major"] != b"1":
            raise InvalidHandshakeResponse("HTTP/1.x required")
        fields = _parseFields(head, statusLineEnd, InvalidHandshakeResponse)
        return Response(
            status=int(match["status"]),
            reason=(match["reason"] or b"").decode("latin-1"),
            httpVersion=f"{match['major'].decode()}.{match['minor'].decode()}",
            headers=Headers(fields),
        )

    def _startBody(self) -> None:
        """
        Decide how the body of the response just read ends.
        """
        response = self._response
        assert response is not None
        status = response.status
        headers = response.headers
        if status == _SWITCHING_PROTOCOLS:
            self._framing = _FIXED
            self._wanted = self.switchBodySize
        elif status in _INFORMATIONAL or status in _BODYLESS_STATUSES:
            self._framing = _NO_BODY
        elif "transfer-encoding" in headers:
            codings = headers.get("transfer-encoding", "") or ""
            last = codings.rsplit(",", 1)[-1].strip().lower()
            self._framing = _CHUNKED if last == _CHUNKED_CODING else _UNTIL_CLOSE
        elif "content-length" in headers:
            self._framing = _FIXED
            self._wanted = min(_contentLength(headers), self.maxBodySize)
        else:
            self._framing = _UNTIL_CLOSE

    def _receiveBody(self, data: bytes) -> Response | None:
        """
        Take the part of C{data} that belongs to the body.

        @return: the complete response, or C{None} while more is needed.
        """
        framing = self._framing
        if framing == _FIXED:
            take = self._wanted - len(self._body)
            self._body += data[:take]
            if len(self._body) < self._wanted:
                return None
            return self._complete(data[take:])
        if framing == _NO_BODY:
            return self._complete(data)
        if framing == _CHUNKED:
            return self._receiveChunks(data)
        room = self.maxBodySize - len(self._body)
        self._body += data[:room]
        if len(self._body) < self.maxBodySize:
            return None
        return self._complete(data[room:])

    def _receiveChunks(self, data: bytes) -> Response | None:
        """
        Decode the next bytes of a chunked body (RFC 7230 section 4.1).

        Ends at the last chunk, at L{maxBodySize}, or where the encoding
        breaks; trailers are not read (the connection closes after a
        refusal).
        """
        pos = 0
        end = len(data)
        while pos < end:
            state = self._chunkState
            if state == _CHUNK_DATA:
                take = min(self._chunkLeft, end - pos, self.maxBodySize - len(self._body))
                self._body += data[pos : pos + take]
                pos += take
                self._chunkLeft -= take
                if len(self._body) >= self.maxBodySize:
                    return self._complete(data[pos:])
                if not self._chunkLeft:
                    self._chunkState = _CHUNK_END
                continue
            lineEnd = data.find(_LINE_END, pos)
            line = self._chunkLine + data[pos : end if lineEnd == -1 else lineEnd]
            if lineEnd == -1:
                if len(line) > MAX_CHUNK_LINE:
                    return self._complete(b"")
                self._chunkLine = line
                return None
            self._chunkLine = b""
            pos = lineEnd + 1
            if state == _CHUNK_END:
                if _stripCarriageReturn(line):
                    return self._complete(data[pos:])
                self._chunkState = _CHUNK_SIZE
                continue
            match = _CHUNK_SIZE_RE.fullmatch(line)
            size = 0 if match is None else int(match[1], 16)
            if not size:
                # The last chunk, or a broken size line: the body ends.
                return self._complete(data[pos:])
            self._chunkLeft = size
            self._chunkState = _CHUNK_DATA
        return None

    def _complete(self, rest: bytes) -> Response:
        response = self._response
        assert response is not None
        self.remainder = rest
        self._done = True
        body = bytes(self._body)
        self._body = bytearray()
        return Response(
            status=response.status,
            reason=response.reason,
            httpVersion=response.httpVersion,
            headers=response.headers,
            body=body,
        )


def _contentLength(headers: Headers) -> int:
    """
    The C{Content-Length} of a response, or 0 if it is invalid (several
    different values, or not digits).
    """
    values = {value.strip() for value in ",".join(headers.getAll("content-length")).split(",")}
    if len(values) != 1:
        return 0
    (value,) = values
    if not value.isdigit() or not value.isascii():
        return 0
    return int(value)


def _stripCarriageReturn(line: bytes) -> bytes:
    if line.endswith(_CARRIAGE_RETURN):
        return line[:-1]
    return line


_REASON_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def reasonPhrase(status: int) -> str:
    """
    The standard reason phrase for C{status}, or C{"Unknown"}.
    """
    return _REASON_PHRASES.get(status, "Unknown")


def renderResponse(
    status: int,
    headers: Iterable[tuple[str, str]],
    body: bytes = b"",
    reason: str | None = None,
) -> bytes:
    """
    The bytes of an HTTP/1.1 response: status line, headers, blank line, body.

    Exactly the given headers are written, in order; nothing (not even
    C{Content-Length}) is added.  Text is encoded as ISO-8859-1.

    @param status: the status code, e.g. 101.
    @param headers: C{(name, value)} pairs.
    @param body: bytes written after the head.
    @param reason: the reason phrase; the standard one for C{status} if
        C{None}.
    @raise ValueError: if a name is not a token, or the reason or a value
        holds a control character (which could split the response).
    """
    if reason is None:
        reason = reasonPhrase(status)
    _checkText(reason)
    statusLine = f"{_RESPONSE_PROTOCOL} {status:d} {reason}\r\n".encode("latin-1")
    return statusLine + renderHeaderLines(headers) + _BLANK_LINE_BYTES + body


def renderRequest(target: str, headers: Iterable[tuple[str, str]], method: str = "GET") -> bytes:
    """
    The bytes of an HTTP/1.1 request head: request line, headers, blank line.

    Exactly the given headers are written, in order.  Text is encoded as
    ISO-8859-1.

    @param target: the request-target, e.g. C{"/chat?room=1"}: visible
        ASCII, percent-encoded where needed.
    @param headers: C{(name, value)} pairs.
    @param method: the method, a token.
    @raise ValueError: if the method is not a token, the target is empty or
        holds a character outside visible ASCII, a name is not a token, or a
        value holds a control character.
    """
    if _RENDER_TOKEN.fullmatch(method) is None:
        raise ValueError(f"invalid method {method!r}")
    if _RENDER_TARGET.fullmatch(target) is None:
        raise ValueError(f"invalid request target {target!r}")
    requestLine = f"{method} {target} {_RESPONSE_PROTOCOL}\r\n".encode("ascii")
    return requestLine + renderHeaderLines(headers) + _BLANK_LINE_BYTES


def renderHeaderLines(headers: Iterable[tuple[str, str]]) -> bytes:
    """
    Header lines, each ending in CRLF, text encoded as ISO-8859-1.

    @param headers: C{(name, value)} pairs, written in order.
    @raise ValueError: if a name is not a token, or a value holds a control
        character (which could split the response).
    """
    lines = []
    for name, value in headers:
        if _RENDER_TOKEN.fullmatch(name) is None:
            raise ValueError(f"invalid header name {name!r}")
        _checkText(value)
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")


def isToken(text: str) -> bool:
    """
    Whether C{text} is an RFC 7230 token (a method, a header name, a
    sub-protocol...): one or more of the visible ASCII characters other
    than delimiters.
    """
    return _RENDER_TOKEN.fullmatch(text) is not None


def _checkText(text: str) -> None:
    if _RENDER_FORBIDDEN.search(text) is not None:
        raise ValueError(f"control character in {text!r}")


def renderRejection(error: HandshakeError) -> bytes:
    """
    The complete response refusing a handshake for C{error}.

    A plain-text body holding the error's reason, the headers the error
    carries, and C{Connection: close}.  A 426 response also names the
    protocol to upgrade to, as RFC 7231 section 6.5.15 requires.

    @param error: why the handshake failed.
    """
    body = (error.reason + "\n").encode("utf-8")
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    if error.status == HTTPStatus.UPGRADE_REQUIRED and not any(
        name.lower() == "upgrade" for name, _ in error.headers
    ):
        headers.append(("Upgrade", "websocket"))
    headers.extend(error.headers)
    return renderResponse(error.status, headers, body)
