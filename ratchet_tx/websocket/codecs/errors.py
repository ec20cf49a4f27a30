"""
The ways a WebSocket peer can break the protocol, or refuse it.

A L{HandshakeError} happens on a server before the connection is a
WebSocket: it carries the HTTP status to answer with.  A L{ProtocolError}
happens after, on either side: it carries the close code to send.

A client's opening handshake fails in one of two ways, both
L{HandshakeFailed}: the server answered with something other than 101
(L{HandshakeRefused}: a well-formed "no", with its status, headers and body),
or its answer breaks HTTP or the WebSocket handshake
(L{InvalidHandshakeResponse}).  Neither is answered: the client closes the
connection.

Codecs raise nothing else for bad input from the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ratchet_tx.websocket.codecs.http import Headers, Response

#: How much of a refusal's body L{HandshakeRefused}'s message quotes.
QUOTED_BODY_SIZE = 200


class HandshakeError(Exception):
    """
    The opening handshake is unacceptable; answer with C{status} and close.

    @ivar status: the HTTP status code to answer with (400, 403, 426, 431, ...).
    @ivar reason: a short human-readable explanation, safe to send to the peer.
    @ivar headers: extra response headers (e.g. C{Sec-WebSocket-Version} on 426).
    """

    def __init__(
        self, status: int, reason: str, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason
        self.headers = tuple(headers)

    def __str__(self) -> str:
        return f"{self.status} {self.reason}"


class ProtocolError(Exception):
    """
    The peer sent bytes that break the framing protocol; close with C{code}.

    Messages that arrived whole before the offending bytes are valid, and a
    peer may expect them handled before the connection fails (the Autobahn
    TestSuite does): a decoder's C{feed} returns them in C{events}.

    @ivar code: the close code to send (1002, 1007, 1009, ...).
    @ivar reason: a short explanation, sent as the close reason.
    @ivar events: the events completed by the same C{feed} call before the
        error, in order.
    """

    def __init__(self, code: int, reason: str, events: Sequence[object] = ()) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        self.events = events

    def __str__(self) -> str:
        return f"{self.code} {self.reason}"


class HandshakeFailed(Exception):
    """
    A client's opening handshake did not open a WebSocket: see
    L{HandshakeRefused} and L{InvalidHandshakeResponse}.
    """


class HandshakeRefused(HandshakeFailed):
    """
    The server answered the opening handshake with a status other than 101.

    @ivar status: the response's status code (403, 404, 426, 503, ...).
    @ivar reason: the response's reason phrase, as sent.
    @ivar headers: the response's header fields.
    @ivar body: the response's body (at most the reader's C{maxBodySize}).
    """

    def __init__(self, status: int, reason: str, headers: Headers, body: bytes = b"") -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    @classmethod
    def fromResponse(cls, response: Response) -> HandshakeRefused:
        """
        The refusal that C{response} is.
        """
        return cls(response.status, response.reason, response.headers, response.body)

    def __str__(self) -> str:
        message = f"the server refused the WebSocket handshake: {self.status} {self.reason}"
        text = self.body[:QUOTED_BODY_SIZE].decode("utf-8", "replace").strip()
        if text:
            first = text.splitlines()[0]
            more = "..." if len(self.body) > QUOTED_BODY_SIZE or first != text else ""
            message += f" ({first}{more})"
        return message


class InvalidHandshakeResponse(HandshakeFailed):
    """
    The server's answer to the opening handshake breaks HTTP or the
    WebSocket handshake: a malformed or oversized head, or a 101 that fails
    the client's checks (a wrong C{Sec-WebSocket-Accept}, a wrong Hixie-76
    answer, no C{Upgrade}, a sub-protocol or extension not offered, ...).

    @ivar reason: what is wrong, in a few words.
    @ivar response: the response, when its head could be read, else C{None}.
    """

    def __init__(self, reason: str, response: Response | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.response = response

    def __str__(self) -> str:
        return f"invalid WebSocket handshake response: {self.reason}"
