# -*- test-case-name: tests.codecs.test_http -*-
"""
Just enough HTTP/1.1 to read an opening handshake and answer it.

Theory of operation
===================

A WebSocket connection starts as one HTTP request head with no body, so this
module reads exactly that: L{RequestReader.feed} buffers bytes until the blank
line that ends the head, parses the head in one pass into a L{Request}, and
keeps whatever followed the blank line in L{RequestReader.remainder} (for a
Hixie-76 client, the eight bytes of the challenge and perhaps its first frame).

The buffer is bounded.  As soon as more than C{maxHeadSize} bytes (or more than
C{maxHeaders} header lines) are buffered without a complete head, the reader
raises L{HandshakeError} with status 431; a head that breaks the grammar of RFC
7230 section 3 raises it with status 400.  Lines may end in CRLF or, leniently,
in a bare LF; anything else is strict: no folded header lines, no whitespace
before a header's colon, no control characters, and nothing but ASCII in the
request line and header names.  Header values may carry octets above 0x7F
(RFC 7230 C{obs-text}); they are decoded as ISO-8859-1, so no byte is lost.

Going the other way, L{renderResponse} and L{renderRejection} turn a status and
headers into the bytes of a response head.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

from .errors import HandshakeError

#: Default bound on the size of a request head, terminating blank line included.
DEFAULT_MAX_HEAD_SIZE = 16384

#: Default bound on the number of header lines in a request head.
DEFAULT_MAX_HEADERS = 100

#: The lowest HTTP version the reader accepts, as (major, minor).
MINIMUM_HTTP_VERSION = (1, 1)

_BAD_REQUEST = HTTPStatus.BAD_REQUEST.value
_HEAD_TOO_LARGE = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE.value

#: The HTTP version written in every response's status line.
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


class RequestReader:
    """
    Read one request head from a stream of bytes.

    Feed it every read until it returns a L{Request}; then L{remainder} holds
    the bytes that came after the head.  A reader that has raised stays
    broken: every later L{feed} raises the same error.

    @ivar maxHeadSize: the largest head accepted, in bytes, its terminating
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
        maxHeadSize: int = DEFAULT_MAX_HEAD_SIZE,
        maxHeaders: int = DEFAULT_MAX_HEADERS,
    ) -> None:
        self.maxHeadSize = maxHeadSize
        self.maxHeaders = maxHeaders
        self.remainder = b""
        self.head = b""
        self._buffer = bytearray()
        # Counted against maxHeadSize: blank lines skipped before the head.
        self._skipped = 0
        # How much of the buffer has been searched for a terminator, and how
        # many line ends it held.
        self._scanned = 0
        self._lineEnds = 0
        self._request: Request | None = None
        self._error: HandshakeError | None = None

    def feed(self, data: bytes) -> Request | None:
        """
        Add bytes read from the peer.

        @param data: the next bytes of the stream.
        @return: the L{Request} once its head is complete, else C{None}.
        @raise HandshakeError: 431 if the head grows past L{maxHeadSize} or
            L{maxHeaders}, 400 if it is malformed.
        @raise RuntimeError: if called again after returning a L{Request}
            (the rest of the stream is no longer HTTP).
        """
        if self._error is not None:
            raise self._error
        if self._request is not None:
            raise RuntimeError("the request head was already read")
        try:
            return self._feed(data)
        except HandshakeError as error:
            self._error = error
            self._buffer = bytearray()
            raise

    def _feed(self, data: bytes) -> Request | None:
        buffer = self._buffer
        buffer += data
        if self._scanned == 0:
            self._skipBlankLines()
        found = self._findTerminator()
        if found is None:
            if self._skipped + len(buffer) > self.maxHeadSize:
                raise self._tooLarge()
            self._lineEnds += buffer.count(_LINE_END, self._scanned)
            self._scanned = len(buffer)
            # Every line end but the request line's ends a header line.
            if self._lineEnds - 1 > self.maxHeaders:
                raise self._tooMany()
            return None
        lastLineEnd, headEnd = found
        if self._skipped + headEnd > self.maxHeadSize:
            raise self._tooLarge()
        head = bytes(buffer[:headEnd])
        request = self._parse(head[:lastLineEnd])
        self.head = head
        self.remainder = bytes(buffer[headEnd:])
        self._buffer = bytearray()
        self._request = request
        return request

    def _skipBlankLines(self) -> None:
        """
        Drop empty lines before the request line (RFC 7230 section 3.5).
        """
        buffer = self._buffer
        blank = len(buffer) - len(buffer.lstrip(_BLANK_LINE_BYTES))
        if blank:
            del buffer[:blank]
            self._skipped += blank

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

    def _tooLarge(self) -> HandshakeError:
        return HandshakeError(
            _HEAD_TOO_LARGE,
            f"request head larger than {self.maxHeadSize} bytes",
        )

    def _tooMany(self) -> HandshakeError:
        return HandshakeError(
            _HEAD_TOO_LARGE,
            f"more than {self.maxHeaders} header fields",
        )

    def _parse(self, head: bytes) -> Request:
        """
        Parse a complete head, without its final line end.
        """
        if head.count(_LINE_END) > self.maxHeaders:
            raise self._tooMany()
        requestLineEnd = head.find(_LINE_END)
        if requestLineEnd == -1:
            requestLineEnd = len(head)
        match = _REQUEST_LINE.fullmatch(_stripCarriageReturn(head[:requestLineEnd]))
        if match is None:
            raise _badRequest("malformed request line")
        version = (int(match["major"]), int(match["minor"]))
        if version < MINIMUM_HTTP_VERSION or version[0] > MINIMUM_HTTP_VERSION[0]:
            raise _badRequest("HTTP/1.1 required")
        block = head[requestLineEnd + 1 :] + _LINE_END
        fields: list[tuple[str, str]]
        if requestLineEnd == len(head):
            fields = []
        elif _HEADER_BLOCK.fullmatch(block) is not None:
            # Every line is well formed (names are ASCII tokens): split them
            # all at once.
            fields = _FIELD.findall(block.decode("latin-1"))
        else:
            # Find the line at fault.
            fields = []
            for raw in head.split(_LINE_END)[1:]:
                line = _stripCarriageReturn(raw)
                if line.startswith(_FOLD_STARTS):
                    raise _badRequest("folded header lines are not allowed")
                header = _HEADER_LINE.fullmatch(line)
                if header is None:
                    raise _badRequest("malformed header line")
                fields.append(
                    (
                        header["name"].decode("ascii"),
                        header["value"].strip(_OPTIONAL_WHITESPACE).decode("latin-1"),
                    )
                )
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
