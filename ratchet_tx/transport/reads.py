# -*- test-case-name: tests.transport.test_reads -*-
"""
How much a transport asks the kernel for in one read: adaptive.

A read that fills what was asked for means more is waiting, so the next read
asks for twice as much (up to L{MAX_READ_SIZE}); a read that fills less than
a quarter of it halves the next one (down to L{MIN_READ_SIZE}).  Large
transfers are then read in few, large pieces (one C{dataReceived} per
megabyte rather than sixteen) while small messages keep small reads.

Each read is a fresh C{bytes} from C{recv}, handed to the protocol as it
is: a protocol may keep what it is given, so it must never change under it.
Reading into one reusable buffer and copying the bytes out was measured
here and lost at every size (recv of 64 KiB: 3.0 µs against 4.6 µs for
C{recv_into} and the copy; of 1 MiB: 65 µs against 136 µs), since the copy
costs more than the allocation it saves.  What wins is C{recv_into} with no
copy at all, into the object the protocol hands on (a large WebSocket
message's own C{bytes}): see C{readInto} in L{ratchet_tx.transport.tcp}.
"""

from __future__ import annotations

KiB = 1024

#: The smallest read: what Twisted's own TCP transport reads each time.
MIN_READ_SIZE = 64 * KiB
#: The largest read, reached after a run of full reads (64 KiB doubling in
#: five steps).  Bounds the memory one read takes.
MAX_READ_SIZE = 1024 * KiB


def nextReadSize(
    size: int, received: int, minimum: int = MIN_READ_SIZE, maximum: int = MAX_READ_SIZE
) -> int:
    """
    How much to ask for in the next read, after asking for C{size} bytes
    and receiving C{received}.

    @param minimum: never less than this.
    @param maximum: never more than this.
    """
    if received >= size:
        return min(size * 2, maximum)
    if received < size // 4:
        return max(size // 2, minimum)
    return size
