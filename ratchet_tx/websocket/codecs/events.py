"""
Control events that frame decoders return beside data messages.

Decoders return a data message as the plain value itself: C{str} for a text
message and C{bytes} for a binary one (the common case stays allocation-free).
Control frames come back as these small objects.
"""

from __future__ import annotations


class Ping:
    """A ping frame arrived; answer with a pong carrying the same payload."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes = b"") -> None:
        self.payload = payload

    def __eq__(self, other: object) -> bool:
        return type(other) is Ping and other.payload == self.payload

    def __repr__(self) -> str:
        return f"Ping({self.payload!r})"


class Pong:
    """A pong frame arrived (an answer to our ping, or unsolicited)."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes = b"") -> None:
        self.payload = payload

    def __eq__(self, other: object) -> bool:
        return type(other) is Pong and other.payload == self.payload

    def __repr__(self) -> str:
        return f"Pong({self.payload!r})"


class Close:
    """
    The peer started or answered the closing handshake.

    @ivar code: the close code, or C{None} when the frame carried none
        (Hixie closes never carry one).
    @ivar reason: the close reason, decoded from UTF-8.
    """

    __slots__ = ("code", "reason")

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        self.code = code
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is Close
            and other.code == self.code
            and other.reason == self.reason
        )

    def __repr__(self) -> str:
        return f"Close({self.code!r}, {self.reason!r})"


#: Anything a decoder's C{feed} may return in its list.
Event = str | bytes | Ping | Pong | Close
