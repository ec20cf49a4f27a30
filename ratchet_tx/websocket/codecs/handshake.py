# -*- test-case-name: tests.codecs.test_handshake -*-
"""
The opening handshake of every WebSocket version: detect, validate, answer.

Theory of operation
===================

Five handshakes share one HTTP request shape (C{GET}, C{Host}, C{Upgrade:
websocket}, C{Connection: Upgrade}) and differ in a few header fields, which
is how L{readOpening} tells them apart, in this order::

    the request carries                 its version
    ----------------------------------  -----------------------------------
    Sec-WebSocket-Version: 13           RFC6455
    Sec-WebSocket-Version: 8            HYBI_10 (drafts -08 to -12)
    Sec-WebSocket-Version: 7            HYBI_07
    another Sec-WebSocket-Version, or
    Sec-WebSocket-Key without one       none: 426, naming the ones we speak
    Sec-WebSocket-Key1 and -Key2        HIXIE_76
    none of these                       HIXIE_75

L{readOpening} validates the request for its version and returns an
L{Opening}: everything later layers need, without HTTP.  It raises
L{HandshakeError} (400 or 426) for anything a server must refuse, before the
caller waits for the Hixie-76 challenge bytes.  L{renderAccept} builds the
complete C{101} response for an L{Opening}, body included.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from http import HTTPStatus

from . import hixie
from .errors import HandshakeError
from .http import MINIMUM_HTTP_VERSION, Request, renderHeaderLines, renderResponse


class WebSocketVersion(Enum):
    """
    The WebSocket protocol versions this package speaks.
    """

    HIXIE_75 = "hixie-75"
    HIXIE_76 = "hixie-76"
    HYBI_07 = "hybi-07"
    HYBI_10 = "hybi-10"
    RFC6455 = "rfc6455"

    @property
    def wireNumber(self) -> int | None:
        """
        The C{Sec-WebSocket-Version} a client of this version sends, or
        C{None} for the Hixie drafts, which send none.
        """
        return _WIRE_NUMBERS.get(self)

    @property
    def isHixie(self) -> bool:
        """
        Whether this is one of the Hixie drafts (sentinel framing, no
        control frames, no binary messages).
        """
        return self in _HIXIE_VERSIONS


_WIRE_NUMBERS = {
    WebSocketVersion.RFC6455: 13,
    WebSocketVersion.HYBI_10: 8,
    WebSocketVersion.HYBI_07: 7,
}
_BY_WIRE_NUMBER = {number: version for version, number in _WIRE_NUMBERS.items()}
_HIXIE_VERSIONS = frozenset({WebSocketVersion.HIXIE_75, WebSocketVersion.HIXIE_76})

#: Every version: the default for L{readOpening}.
ALL_VERSIONS: frozenset[WebSocketVersion] = frozenset(WebSocketVersion)

#: RFC 6455 section 1.3: appended to the client's key before hashing.
ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: Length of the decoded C{Sec-WebSocket-Key} nonce (RFC 6455 section 4.1).
NONCE_LENGTH = 16

_BAD_REQUEST = HTTPStatus.BAD_REQUEST.value
_UPGRADE_REQUIRED = HTTPStatus.UPGRADE_REQUIRED.value
_SWITCHING_PROTOCOLS = HTTPStatus.SWITCHING_PROTOCOLS.value
#: An RFC 6455 / HyBi accepting response up to its Sec-WebSocket-Accept value.
_ACCEPT_HEAD = renderResponse(
    _SWITCHING_PROTOCOLS, [("Upgrade", "websocket"), ("Connection", "Upgrade")]
)[: -len(b"\r\n")] + b"Sec-WebSocket-Accept: "

#: Reason phrases the Hixie drafts require in the status line, byte for byte.
_HIXIE_76_REASON = "WebSocket Protocol Handshake"
_HIXIE_75_REASON = "Web Socket Protocol Handshake"

_SECURE_SCHEME = "wss"
_PLAIN_SCHEME = "ws"

# One element of a comma-separated list, commas inside quoted strings kept.
_LIST_ELEMENT = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*(?:"|\Z))+')
_DIGITS = re.compile(r"[0-9]+")


def _bad(reason: str) -> HandshakeError:
    return HandshakeError(_BAD_REQUEST, reason)


@dataclass(frozen=True, slots=True)
class Opening:
    """
    A validated opening handshake.

    @ivar version: the protocol version the client speaks.
    @ivar request: the request it came in.
    @ivar origin: the origin the client claims (from C{Origin}, or
        C{Sec-WebSocket-Origin} for HyBi drafts), or C{None}.
    @ivar subprotocols: the sub-protocols offered, in the client's order.
    @ivar extensions: the extensions offered, one raw string each
        (e.g. C{"permessage-deflate; client_max_window_bits"}); HyBi and
        RFC 6455 only.
    @ivar key: the C{Sec-WebSocket-Key} (HyBi and RFC 6455), else C{None}.
    @ivar key3Length: how many bytes after the head complete the handshake:
        8 for Hixie-76 (the challenge's key3), else 0.
    """

    version: WebSocketVersion
    request: Request
    origin: str | None
    subprotocols: tuple[str, ...]
    extensions: tuple[str, ...]
    key: str | None
    key3Length: int


def splitList(value: str | None) -> tuple[str, ...]:
    """
    Split a comma-separated header value (RFC 7230 section 7) into elements.

    Commas inside quoted strings do not split; elements are stripped of
    whitespace and empty ones are dropped.
    """
    if not value:
        return ()
    elements = (element.strip() for element in _LIST_ELEMENT.findall(value))
    return tuple(element for element in elements if element)


def hasToken(value: str | None, token: str) -> bool:
    """
    Whether the comma-separated C{value} holds C{token}, ignoring case
    (as C{Connection: keep-alive, Upgrade} holds C{"upgrade"}).

    @param value: a header value, or C{None} if the header is absent.
    @param token: the token to look for, in lower case.
    """
    if not value:
        return False
    return any(part.strip().lower() == token for part in value.split(","))


def _hybiNumbers(versions: frozenset[WebSocketVersion]) -> list[int]:
    """
    The wire numbers of the enabled HyBi and RFC versions, newest first.
    """
    numbers = (version.wireNumber for version in versions)
    return sorted((number for number in numbers if number is not None), reverse=True)


def _unsupported(versions: frozenset[WebSocketVersion], why: str) -> HandshakeError:
    """
    The refusal of a HyBi or RFC client whose version we will not speak.

    426 with the versions we do speak (RFC 6455 section 4.4), or 400 if we
    speak none of them.
    """
    numbers = _hybiNumbers(versions)
    if not numbers:
        return _bad(f"{why}; HyBi and RFC 6455 WebSocket clients are not accepted")
    supported = ", ".join(str(number) for number in numbers)
    return HandshakeError(
        _UPGRADE_REQUIRED,
        f"{why}; supported versions: {supported}",
        headers=[("Sec-WebSocket-Version", supported)],
    )


def _detectVersion(request: Request, versions: frozenset[WebSocketVersion]) -> WebSocketVersion:
    headers = request.headers
    wire = headers.get("sec-websocket-version")
    if wire is not None:
        wire = wire.strip()
        if _DIGITS.fullmatch(wire) is None:
            raise _unsupported(versions, f"unsupported WebSocket version {wire!r}")
        version = _BY_WIRE_NUMBER.get(int(wire))
        if version is None or version not in versions:
            raise _unsupported(versions, f"unsupported WebSocket version {wire}")
        return version
    if "sec-websocket-key" in headers:
        raise _unsupported(versions, "Sec-WebSocket-Version is missing")
    hasKey1 = "sec-websocket-key1" in headers
    hasKey2 = "sec-websocket-key2" in headers
    if hasKey1 or hasKey2:
        if not (hasKey1 and hasKey2):
            missing = "Key2" if hasKey1 else "Key1"
            raise _bad(f"Sec-WebSocket-{missing} is missing")
        version = WebSocketVersion.HIXIE_76
    else:
        version = WebSocketVersion.HIXIE_75
    if version not in versions:
        raise _bad(
            f"{version.value} WebSocket clients are not accepted; this server needs a newer browser"
        )
    return version


def _parseHttpVersion(httpVersion: str) -> tuple[int, int] | None:
    major, dot, minor = httpVersion.partition(".")
    if not (dot and major.isdecimal() and minor.isdecimal()):
        return None
    return int(major), int(minor)


def _checkKey(key: str | None) -> str:
    """
    Check a C{Sec-WebSocket-Key}: the base64 encoding of 16 bytes.
    """
    if key is None:
        raise _bad("Sec-WebSocket-Key is missing")
    try:
        nonce = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("Sec-WebSocket-Key is not base64") from None
    if len(nonce) != NONCE_LENGTH:
        raise _bad(f"Sec-WebSocket-Key is not {NONCE_LENGTH} bytes")
    return key


def readOpening(request: Request, versions: frozenset[WebSocketVersion] = ALL_VERSIONS) -> Opening:
    """
    Validate a WebSocket opening handshake and find its version.

    @param request: the request head.
    @param versions: the versions to accept.
    @return: the handshake's parameters.
    @raise HandshakeError: 426 (with C{Sec-WebSocket-Version}) for a HyBi or
        RFC version we do not speak; 400 for any other unacceptable request.
    """
    headers = request.headers
    if request.method != "GET":
        raise _bad("WebSocket handshakes use GET")
    if not hasToken(headers.get("upgrade"), "websocket"):
        raise _bad("Upgrade: websocket is missing")
    if not hasToken(headers.get("connection"), "upgrade"):
        raise _bad("Connection: Upgrade is missing")
    if len(headers.getAll("host")) != 1:
        raise _bad("exactly one Host header is required")
    version = _detectVersion(request, versions)

    if version.isHixie:
        if version is WebSocketVersion.HIXIE_76:
            # Checked now so that a bad key fails before key3 is awaited.
            hixie.keyNumber(headers.get("sec-websocket-key1") or "")
            hixie.keyNumber(headers.get("sec-websocket-key2") or "")
            protocol = headers.get("sec-websocket-protocol")
            key3Length = hixie.KEY3_LENGTH
        else:
            protocol = headers.get("websocket-protocol")
            key3Length = 0
        return Opening(
            version=version,
            request=request,
            origin=headers.get("origin"),
            subprotocols=(protocol,) if protocol else (),
            extensions=(),
            key=None,
            key3Length=key3Length,
        )

    httpVersion = _parseHttpVersion(request.httpVersion)
    if httpVersion is None or httpVersion < MINIMUM_HTTP_VERSION:
        raise _bad("WebSocket handshakes need HTTP/1.1")
    key = _checkKey(headers.get("sec-websocket-key"))
    if version is WebSocketVersion.RFC6455:
        origin = headers.get("origin")
    elif version is WebSocketVersion.HYBI_10:
        origin = headers.get("sec-websocket-origin", headers.get("origin"))
    else:
        origin = headers.get("sec-websocket-origin")
    return Opening(
        version=version,
        request=request,
        origin=origin,
        subprotocols=splitList(headers.get("sec-websocket-protocol")),
        extensions=splitList(headers.get("sec-websocket-extensions")),
        key=key,
        key3Length=0,
    )


def acceptKey(key: str) -> str:
    """
    The C{Sec-WebSocket-Accept} answering C{key} (RFC 6455 section 4.2.2).

    Base64 of the SHA-1 of the key, exactly as sent, followed by
    L{ACCEPT_GUID}.
    """
    digest = hashlib.sha1((key + ACCEPT_GUID).encode("latin-1")).digest()
    return base64.b64encode(digest).decode("ascii")


def renderAccept(
    opening: Opening,
    *,
    subprotocol: str | None = None,
    key3: bytes = b"",
    secure: bool = False,
    location: str | None = None,
    extensions: str | None = None,
    extraHeaders: Iterable[tuple[str, str]] = (),
) -> bytes:
    """
    The complete response accepting C{opening}, ready to write.

    @param opening: the handshake to accept.
    @param subprotocol: the sub-protocol chosen, one of
        C{opening.subprotocols}, or C{None}.
    @param key3: Hixie-76 only: the eight bytes that followed the head.
    @param secure: Hixie only: whether the connection uses TLS (C{wss:}).
    @param location: Hixie only: the URL the client connected to, when it
        differs from C{ws[s]://<Host><target>} (behind a TLS-terminating
        proxy, for instance).
    @param extensions: HyBi and RFC 6455 only: the
        C{Sec-WebSocket-Extensions} value agreed, or C{None}.
    @param extraHeaders: more headers to send, such as C{Set-Cookie}.
    @raise ValueError: if C{subprotocol} was not offered, if extensions are
        given for a Hixie version, or if C{key3} is not eight bytes long for
        Hixie-76.
    """
    if subprotocol is not None and subprotocol not in opening.subprotocols:
        raise ValueError(f"sub-protocol {subprotocol!r} was not offered")
    version = opening.version
    if version.isHixie:
        if extensions is not None:
            raise ValueError(f"{version.value} has no extensions")
        return _renderHixieAccept(opening, subprotocol, key3, secure, location, extraHeaders)
    headers = []
    if subprotocol is not None:
        headers.append(("Sec-WebSocket-Protocol", subprotocol))
    if extensions is not None:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    headers.extend(extraHeaders)
    # The fixed part is rendered once, at import; only the rest is checked.
    accept = acceptKey(opening.key or "").encode("ascii")
    return _ACCEPT_HEAD + accept + b"\r\n" + renderHeaderLines(headers) + b"\r\n"


def _renderHixieAccept(
    opening: Opening,
    subprotocol: str | None,
    key3: bytes,
    secure: bool,
    location: str | None,
    extraHeaders: Iterable[tuple[str, str]],
) -> bytes:
    """
    The Hixie-75 and Hixie-76 accepting responses.

    The drafts fix the status line and the first two headers byte for byte
    (Hixie-75 clients compare them literally), then name the origin and
    location the client must check.
    """
    request = opening.request
    if location is None:
        scheme = _SECURE_SCHEME if secure else _PLAIN_SCHEME
        location = f"{scheme}://{request.headers.get('host')}{request.target}"
    headers = [("Upgrade", "WebSocket"), ("Connection", "Upgrade")]
    if opening.version is WebSocketVersion.HIXIE_76:
        body = hixie.challengeResponse(
            request.headers.get("sec-websocket-key1") or "",
            request.headers.get("sec-websocket-key2") or "",
            key3,
        )
        prefix, reason = "Sec-WebSocket-", _HIXIE_76_REASON
    else:
        body = b""
        prefix, reason = "WebSocket-", _HIXIE_75_REASON
    if opening.origin is not None:
        headers.append((prefix + "Origin", opening.origin))
    headers.append((prefix + "Location", location))
    if subprotocol is not None:
        headers.append((prefix + "Protocol", subprotocol))
    headers.extend(extraHeaders)
    return renderResponse(_SWITCHING_PROTOCOLS, headers, body, reason)
