# -*- test-case-name: tests.test_allocator -*-
"""
Tuning the C allocator for servers that receive large messages.

A large message is received into a C{bytes} object made at its size (see
L{ratchet_tx.websocket.codecs.hybi.PayloadBuffer}) and freed once it has
been handled.  glibc's C{malloc} serves blocks from 128 KiB on (a threshold
it raises as such blocks are freed) with C{mmap} of their own, and gives
free memory at the top of its heap back to the kernel once more than twice
that is free: so a server echoing megabyte messages maps, faults in (a
page fault per 4 KiB, each zeroing its page) and unmaps every message's
memory anew, which costs about a quarter of the time the message takes.

L{keepLargeBlocks} sets both limits once: blocks of up to C{mmapThreshold}
come from the heap, and up to C{trimThreshold} of free heap is kept for the
next ones.  The price is memory: what a burst of large messages took stays
with the process (up to C{trimThreshold} of it free) rather than going
back to the kernel at once.  C{twistd ratchet} does this at start unless
told C{--no-keep-large-blocks}; a program of one's own may call it.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

MiB = 1024 * 1024

#: glibc's C{mallopt} parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: The largest C{M_MMAP_THRESHOLD} glibc accepts on 64-bit machines.
DEFAULT_MMAP_THRESHOLD = 32 * MiB
DEFAULT_TRIM_THRESHOLD = 128 * MiB


def keepLargeBlocks(
    mmapThreshold: int = DEFAULT_MMAP_THRESHOLD, trimThreshold: int = DEFAULT_TRIM_THRESHOLD
) -> bool:
    """
    Have the C allocator serve blocks of up to C{mmapThreshold} bytes from
    its heap and keep up to C{trimThreshold} bytes of it free for reuse,
    where the allocator is glibc's; elsewhere do nothing.

    @return: whether the allocator took both settings.
    """
    mallopt = _mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, mmapThreshold)) & bool(
        mallopt(_M_TRIM_THRESHOLD, trimThreshold)
    )


def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's C{mallopt}, if this process runs on glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, say)
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt
