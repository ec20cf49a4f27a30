# -*- test-case-name: tests.codecs.test_pieces -*-
"""
A frame in pieces: bytes to write in order, without joining them first.

A large message's frame is its header followed by the payload as it is
(L{ratchet_tx.websocket.codecs.hybi.frameBinary}): joining the two would copy
the whole payload once more just to put a few bytes before it.  The
connection writes the pieces with the transport's C{writeSequence}, which
sends them together (C{sendmsg}) where it can.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Pieces", "writtenSize"]


class Pieces(tuple[bytes, ...]):
    """
    The bytes of one frame (or any message on the wire) as consecutive
    pieces: what is sent is their concatenation.  Immutable, like the
    C{bytes} it stands for, so one object may be sent to many peers.
    """

    __slots__ = ()

    @property
    def size(self) -> int:
        """How many bytes the pieces hold together."""
        return sum(map(len, self))

    def join(self) -> bytes:
        """The pieces as one C{bytes} (a copy)."""
        return b"".join(self)


def writtenSize(data: Any) -> int:
    """The size of C{data}: C{bytes} (or any bytes-like object) or L{Pieces}."""
    return data.size if type(data) is Pieces else len(data)
