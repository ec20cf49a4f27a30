"""
The two ways a WebSocket peer can break the protocol.

A L{HandshakeError} happens before the connection is a WebSocket: it carries
the HTTP status to answer with.  A L{ProtocolError} happens after: it carries
the close code to send.  Codecs raise nothing else for bad input from the
network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


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
