# -*- test-case-name: tests.transport.test_queue -*-
"""
The bytes a transport could not send yet, kept as the pieces it was given.

Nothing is joined: the pieces go to the kernel as they are, several per
C{sendmsg} (a scatter/gather write), and a piece the kernel took only part of
is kept as a C{memoryview} of what is left, so no byte is copied before the
kernel copies it.  No I/O and no Twisted here: the transport sends, this
module only keeps count.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

Piece = bytes | memoryview


def _iovMax() -> int:
    """The most buffers one C{sendmsg} may carry here (POSIX: at least 16)."""
    try:
        limit = os.sysconf("SC_IOV_MAX")
    except (AttributeError, ValueError, OSError):
        limit = -1
    return limit if limit > 0 else 16


#: The most pieces handed to one C{sendmsg}: the system's C{IOV_MAX} (1024 on
#: Linux), and never more than 1024, so that building the call stays cheap.
MAX_PIECES_PER_SEND = min(_iovMax(), 1024)


class WriteQueue:
    """
    Pieces of bytes waiting to be sent, oldest first.

    @ivar size: how many bytes wait, in all.
    """

    __slots__ = ("_pieces", "size")

    def __init__(self, pieces: Iterable[Piece] = ()) -> None:
        self._pieces: list[Piece] = []
        self.size = 0
        self.extend(pieces)

    def __bool__(self) -> bool:
        return self.size > 0

    def __len__(self) -> int:
        """How many pieces wait (not bytes: see C{size})."""
        return len(self._pieces)

    def append(self, piece: Piece) -> None:
        """Queue C{piece} after everything queued so far (empty ones are dropped)."""
        if piece:
            self._pieces.append(piece)
            self.size += len(piece)

    def extend(self, pieces: Iterable[Piece]) -> None:
        """Queue each of C{pieces}, in order."""
        for piece in pieces:
            self.append(piece)

    def head(self, limit: int = MAX_PIECES_PER_SEND) -> list[Piece]:
        """
        The oldest C{limit} pieces at most, for one C{sendmsg}.  The list may
        be the queue's own: read it, send it, do not keep or change it.
        """
        pieces = self._pieces
        return pieces if len(pieces) <= limit else pieces[:limit]

    def consume(self, sent: int) -> int:
        """
        Forget the oldest C{sent} bytes: the kernel took them.

        @return: how many whole pieces went.
        @raise ValueError: if fewer than C{sent} bytes wait.
        """
        if not 0 <= sent <= self.size:
            raise ValueError(f"cannot consume {sent} of {self.size} bytes")
        pieces = self._pieces
        self.size -= sent
        done = 0
        while sent:
            length = len(pieces[done])
            if sent < length:
                pieces[done] = memoryview(pieces[done])[sent:]
                break
            sent -= length
            done += 1
        del pieces[:done]
        return done

    def clear(self) -> None:
        """Forget everything queued (the connection is gone)."""
        self._pieces.clear()
        self.size = 0
