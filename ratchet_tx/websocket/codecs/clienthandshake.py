# -*- test-case-name: tests.codecs.test_clienthandshake -*-
"""
The client's side of the opening handshake of every WebSocket version.

Theory of operation
===================

A client makes one L{ClientHandshake} per connection attempt:
L{ClientHandshake.new} takes the URL (L{parseURL}), the version and the
offers, and draws the random parts (RFC 6455's C{Sec-WebSocket-Key},
Hixie-76's L{Challenge}); the constructor takes them ready-made, which is how
the specs' worked examples are replayed.  Then::

    handshake = ClientHandshake.new("ws://example.com/chat", version=...)
    write(handshake.render())                   # request head (+ key3)
    reader = ResponseReader(maxHandshakeSize=..., switchBodySize=handshake.switchBodySize)
    response = reader.feed(data)                # ... until not None; or reader.end()
    accepted = handshake.validate(response)     # Accepted, or raises
    decoder.feed(reader.remainder)              # the first frames, if any

L{ClientHandshake.validate} raises L{HandshakeRefused} for any status but
101, and L{InvalidHandshakeResponse} for a 101 that fails the version's
checks::

    version         request names            a 101 must carry
    --------------  -----------------------  -----------------------------------
    RFC6455 (13)    Origin                   Upgrade: websocket, Connection:
    HYBI_10 (8)     Sec-WebSocket-Origin     Upgrade, the Sec-WebSocket-Accept
    HYBI_07 (7)     Sec-WebSocket-Origin     of our key (RFC 6455 section 4.1),
                                             at most one sub-protocol, offered;
                                             only extensions offered
    HIXIE_76        Origin, Key1/Key2, key3  Upgrade: WebSocket, Connection:
                                             Upgrade, Sec-WebSocket-Location
                                             equal to our URL, Sec-WebSocket-
                                             Origin equal to ours (if we sent
                                             one), the challenge's answer as
                                             its 16-byte body
    HIXIE_75        Origin                   the same with WebSocket-Location
                                             and WebSocket-Origin, no body

A Hixie server's sub-protocol is checked only when we offered one (the drafts
ignore the field otherwise).  The only extension offered is permessage-deflate
(the one the frame codecs implement), from a L{DeflatePolicy}; the Hixie drafts
have no extensions, so the policy is not offered to them.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import quote, urlsplit

from .deflate import (
    EXTENSION_NAME,
    DeflatePolicy,
    PerMessageDeflate,
    acceptResponse,
    parseElement,
    renderOffer,
)
from .errors import HandshakeError, HandshakeRefused, InvalidHandshakeResponse
from .handshake import NONCE_LENGTH, WebSocketVersion, acceptKey, hasToken, splitList
from .hixie import ANSWER_LENGTH, Challenge
from .http import Response, isToken, renderRequest

_SWITCHING_PROTOCOLS = HTTPStatus.SWITCHING_PROTOCOLS.value

_PLAIN_SCHEME = "ws"
_SECURE_SCHEME = "wss"
#: The port a URL without one means, by whether it is C{wss:}.
DEFAULT_PORTS = {False: 80, True: 443}

#: What may stay unescaped in a resource name: visible ASCII but C{#}.
_RESOURCE_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "#")

#: Header names the handshake writes itself: not accepted as extra headers.
MANAGED_HEADERS = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "origin",
        "sec-websocket-origin",
        "sec-websocket-key",
        "sec-websocket-key1",
        "sec-websocket-key2",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
        "websocket-protocol",
    }
)

_SYSTEM_RANDOM = random.SystemRandom()


@dataclass(frozen=True, slots=True)
class WebSocketURL:
    """
    Where a client connects: a C{ws://} or C{wss://} URL, taken apart.

    @ivar secure: whether the scheme is C{wss} (TLS).
    @ivar host: the host name in lower case, or an IP address (an IPv6
        address without its brackets).
    @ivar port: the TCP port, the scheme's default if the URL had none.
    @ivar resource: the path and query, e.g. C{"/chat?room=1"}; C{"/"} at
        least.
    """

    secure: bool
    host: str
    port: int
    resource: str

    @property
    def hostHeader(self) -> str:
        """
        The C{Host} value: the host, with its port when not the default.
        """
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == DEFAULT_PORTS[self.secure]:
            return host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        """
        The URL in the form Hixie servers echo in their C{Location} header.
        """
        scheme = _SECURE_SCHEME if self.secure else _PLAIN_SCHEME
        return f"{scheme}://{self.hostHeader}{self.resource}"


def parseURL(url: str) -> WebSocketURL:
    """
    Take a WebSocket URL apart (RFC 6455 section 3).

    The host is lowercased (and IDNA-encoded if not ASCII); characters of
    the path and query outside visible ASCII are percent-encoded as UTF-8.

    @param url: C{ws://host[:port][/path][?query]} or C{wss://...}.
    @raise ValueError: another scheme, no host, a bad port, a fragment
        (RFC 6455 forbids them), or user information (send an
        C{Authorization} header instead).
    """
    parts = urlsplit(url)
    if parts.scheme not in (_PLAIN_SCHEME, _SECURE_SCHEME):
        raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
    if "#" in url:
        raise ValueError(f"a WebSocket URL has no fragment: {url!r}")
    if "@" in parts.netloc:
        raise ValueError(f"user information in a WebSocket URL is not supported: {url!r}")
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in {url!r}")
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    secure = parts.scheme == _SECURE_SCHEME
    port = parts.port  # raises ValueError for a bad one
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    return WebSocketURL(
        secure=secure,
        host=host,
        port=DEFAULT_PORTS[secure] if port is None else port,
        resource=quote(resource, safe=_RESOURCE_SAFE),
    )


def newKey(rng: random.Random) -> str:
    """
    A fresh C{Sec-WebSocket-Key}: 16 random bytes in base64 (RFC 6455
    section 4.1).

    @param rng: the source of randomness.
    """
    return base64.b64encode(rng.randbytes(NONCE_LENGTH)).decode("ascii")


@dataclass(frozen=True, slots=True)
class Accepted:
    """
    What a server's 101 agreed to.

    @ivar version: the protocol version spoken.
    @ivar response: the response, for its headers (C{Set-Cookie}, ...).
    @ivar subprotocol: the sub-protocol the server chose, or C{None}.
    @ivar extensions: the C{Sec-WebSocket-Extensions} value agreed, or
        C{None}.
    @ivar deflate: the client's permessage-deflate, if agreed: give it to
        the frame decoder and the encoders.
    """

    version: WebSocketVersion
    response: Response
    subprotocol: str | None
    extensions: str | None
    deflate: PerMessageDeflate | None


@dataclass(frozen=True, slots=True)
class ClientHandshake:
    """
    One client opening handshake: the request to send and the checks on
    the answer.

    @ivar url: where to connect.
    @ivar version: the protocol version to speak.
    @ivar key: the C{Sec-WebSocket-Key} (RFC 6455 and HyBi), else C{None}.
    @ivar challenge: the Hixie-76 challenge, else C{None}.
    @ivar subprotocols: the sub-protocols offered, in order of preference
        (a Hixie draft offers one at most).
    @ivar origin: the origin to claim (C{Origin}, or C{Sec-WebSocket-Origin}
        for the HyBi drafts), or C{None} to send none.
    @ivar headers: more request headers, such as C{Cookie}.
    @ivar deflate: the permessage-deflate policy to offer (RFC 6455 and
        HyBi), or C{None} to offer none.
    """

    url: WebSocketURL
    version: WebSocketVersion = WebSocketVersion.RFC6455
    key: str | None = None
    challenge: Challenge | None = None
    subprotocols: tuple[str, ...] = ()
    origin: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    deflate: DeflatePolicy | None = None
    _answer: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        version = self.version
        if version.isHixie:
            if self.key is not None:
                raise ValueError(f"{version.value} has no Sec-WebSocket-Key")
            hasChallenge = self.challenge is not None
            if hasChallenge != (version is WebSocketVersion.HIXIE_76):
                raise ValueError("Hixie-76, and only Hixie-76, needs a challenge")
            if len(self.subprotocols) > 1:
                raise ValueError(f"{version.value} offers one sub-protocol at most")
            answer = b""
            if self.challenge is not None:
                try:
                    answer = self.challenge.answer
                except HandshakeError as error:
                    raise ValueError(f"invalid Hixie-76 key: {error.reason}") from None
            object.__setattr__(self, "_answer", answer)
        else:
            if self.challenge is not None:
                raise ValueError(f"{version.value} has no Hixie-76 challenge")
            if self.key is None or len(base64.b64decode(self.key, validate=True)) != NONCE_LENGTH:
                raise ValueError("Sec-WebSocket-Key must be 16 bytes in base64")
            for subprotocol in self.subprotocols:
                if not isToken(subprotocol):
                    raise ValueError(f"sub-protocol {subprotocol!r} is not a token")
            object.__setattr__(self, "_answer", b"")
        if len(set(self.subprotocols)) != len(self.subprotocols):
            raise ValueError(f"sub-protocol offered twice in {self.subprotocols!r}")
        for name, _ in self.headers:
            if name.lower() in MANAGED_HEADERS:
                raise ValueError(f"the handshake writes {name} itself")

    @classmethod
    def new(
        cls,
        url: str | WebSocketURL,
        *,
        version: WebSocketVersion = WebSocketVersion.RFC6455,
        subprotocols: Iterable[str] = (),
        origin: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        deflate: DeflatePolicy | None = None,
        rng: random.Random = _SYSTEM_RANDOM,
    ) -> ClientHandshake:
        """
        A handshake with fresh random keys.

        @param url: a C{ws://} or C{wss://} URL, or one already parsed.
        @param version: the protocol version to speak.
        @param subprotocols: the sub-protocols to offer.
        @param origin: the origin to claim, or C{None}.
        @param headers: more request headers.
        @param deflate: the permessage-deflate policy to offer; ignored for
            the Hixie drafts, which have no extensions.
        @param rng: the source of randomness: the system's unpredictable one
            unless a test gives its own.
        @raise ValueError: see L{parseURL}, and the checks of the
            constructor (a managed header among C{headers}, several
            sub-protocols for a Hixie draft, ...).
        """
        if isinstance(url, str):
            url = parseURL(url)
        if isinstance(headers, Mapping):
            headers = headers.items()
        isHixie = version.isHixie
        return cls(
            url=url,
            version=version,
            key=None if isHixie else newKey(rng),
            challenge=Challenge.generate(rng) if version is WebSocketVersion.HIXIE_76 else None,
            subprotocols=tuple(subprotocols),
            origin=origin,
            headers=tuple(headers),
            deflate=None if isHixie else deflate,
        )

    @property
    def switchBodySize(self) -> int:
        """
        How many bytes follow the head of the server's 101: give it to the
        L{ResponseReader<ratchet_tx.websocket.codecs.http.ResponseReader>}.
        """
        return ANSWER_LENGTH if self.version is WebSocketVersion.HIXIE_76 else 0

    def render(self) -> bytes:
        """
        The bytes to write: the request head, followed for Hixie-76 by the
        challenge's key3.

        @raise ValueError: a header value holds a control character.
        """
        url = self.url
        version = self.version
        if version.isHixie:
            # In the order of the drafts' examples (and of Safari 5).
            fields = [("Upgrade", "WebSocket"), ("Connection", "Upgrade"), ("Host", url.hostHeader)]
            # Draft 76 section 4.1 (and 75): the origin in lower case.
            if self.origin is not None:
                fields.append(("Origin", self.origin.lower()))
            prefix = "Sec-WebSocket-" if self.challenge is not None else "WebSocket-"
            if self.subprotocols:
                fields.append((prefix + "Protocol", self.subprotocols[0]))
            if self.challenge is not None:
                fields.append(("Sec-WebSocket-Key1", self.challenge.key1))
                fields.append(("Sec-WebSocket-Key2", self.challenge.key2))
        else:
            # In the order of RFC 6455 section 1.3's example (and of the
            # HyBi drafts').
            fields = [
                ("Host", url.hostHeader),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", self.key or ""),
            ]
            if self.origin is not None:
                originHeader = (
                    "Origin" if version is WebSocketVersion.RFC6455 else "Sec-WebSocket-Origin"
                )
                fields.append((originHeader, self.origin))
            if self.subprotocols:
                fields.append(("Sec-WebSocket-Protocol", ", ".join(self.subprotocols)))
            offer = None if self.deflate is None else renderOffer(self.deflate)
            if offer is not None:
                fields.append(("Sec-WebSocket-Extensions", offer))
            fields.append(("Sec-WebSocket-Version", str(version.wireNumber)))
        fields.extend(self.headers)
        head = renderRequest(url.resource, fields)
        if self.challenge is not None:
            return head + self.challenge.key3
        return head

    def validate(self, response: Response) -> Accepted:
        """
        Check the server's answer.

        @param response: the response, with its body, from a
            L{ResponseReader<ratchet_tx.websocket.codecs.http.ResponseReader>}
            made with L{switchBodySize}.
        @return: what was agreed.
        @raise HandshakeRefused: the status is not 101.
        @raise InvalidHandshakeResponse: the 101 fails the version's checks
            (see the module docstring).
        """
        if response.status != _SWITCHING_PROTOCOLS:
            raise HandshakeRefused.fromResponse(response)
        try:
            if response.httpVersion != "1.1":
                raise InvalidHandshakeResponse("a 101 response must be HTTP/1.1")
            if self.version.isHixie:
                return self._validateHixie(response)
            return self._validateHybi(response)
        except InvalidHandshakeResponse as error:
            if error.response is not None:
                raise
            raise InvalidHandshakeResponse(error.reason, response) from None

    def _validateHybi(self, response: Response) -> Accepted:
        """
        RFC 6455 section 4.1, the client's checks 1 to 6 (HyBi-07 and -10
        check the same).
        """
        headers = response.headers
        upgrade = splitList(headers.get("upgrade"))
        if [value.lower() for value in upgrade] != ["websocket"]:
            raise InvalidHandshakeResponse(
                "Upgrade: websocket is missing" if not upgrade else f"Upgrade is {upgrade!r}"
            )
        if not hasToken(headers.get("connection"), "upgrade"):
            raise InvalidHandshakeResponse("Connection: Upgrade is missing")
        accepts = headers.getAll("sec-websocket-accept")
        if not accepts:
            raise InvalidHandshakeResponse("Sec-WebSocket-Accept is missing")
        if len(accepts) > 1 or accepts[0].strip() != acceptKey(self.key or ""):
            raise InvalidHandshakeResponse("wrong Sec-WebSocket-Accept")
        extensions = headers.getAll("sec-websocket-extensions")
        return Accepted(
            version=self.version,
            response=response,
            subprotocol=self._chosenSubprotocol(headers.getAll("sec-websocket-protocol")),
            extensions=", ".join(extensions) if extensions else None,
            deflate=self._agreedDeflate(extensions),
        )

    def _chosenSubprotocol(self, values: list[str]) -> str | None:
        if not values:
            return None
        chosen = splitList(", ".join(values))
        if len(chosen) != 1:
            raise InvalidHandshakeResponse(f"several sub-protocols chosen: {chosen!r}")
        if chosen[0] not in self.subprotocols:
            raise InvalidHandshakeResponse(f"sub-protocol {chosen[0]!r} was not offered")
        return chosen[0]

    def _agreedDeflate(self, values: list[str]) -> PerMessageDeflate | None:
        """
        Check the extensions the server agreed to: only permessage-deflate,
        once, as offered.
        """
        agreed = None
        policy = self.deflate
        for element in splitList(", ".join(values)):
            parsed = parseElement(element)
            if parsed is None:
                raise InvalidHandshakeResponse(f"malformed extension {element!r}")
            name, params = parsed
            if name != EXTENSION_NAME or policy is None or not policy.enabled:
                raise InvalidHandshakeResponse(f"extension {name!r} was not offered")
            if agreed is not None:
                raise InvalidHandshakeResponse(f"{name} agreed twice")
            agreed = acceptResponse(params, policy)
        return agreed

    def _validateHixie(self, response: Response) -> Accepted:
        """
        The client's checks of draft 76 section 4.1 (and of draft 75): the
        fixed fields exactly, the origin and location echoed exactly, once
        each, and the challenge's answer.
        """
        headers = response.headers
        is76 = self.challenge is not None
        prefix = "sec-websocket-" if is76 else "websocket-"
        expected = {
            "upgrade": "WebSocket",
            "connection": "Upgrade",
            prefix + "location": str(self.url),
        }
        if self.origin is not None:
            expected[prefix + "origin"] = self.origin.lower()
        for name, value in expected.items():
            values = headers.getAll(name)
            if len(values) != 1:
                raise InvalidHandshakeResponse(
                    f"{name} is missing" if not values else f"{name} appears {len(values)} times"
                )
            if values[0] != value:
                raise InvalidHandshakeResponse(f"{name} is {values[0]!r}, not {value!r}")
        subprotocol = None
        if self.subprotocols:
            subprotocol = headers.get(prefix + "protocol")
            if subprotocol is not None and subprotocol != self.subprotocols[0]:
                raise InvalidHandshakeResponse(f"sub-protocol {subprotocol!r} was not offered")
        if is76 and response.body != self._answer:
            raise InvalidHandshakeResponse("wrong answer to the Hixie-76 challenge")
        return Accepted(
            version=self.version,
            response=response,
            subprotocol=subprotocol,
            extensions=None,
            deflate=None,
        )

