# -*- test-case-name: tests.session.test_signing -*-
"""
The bounds every session decoder works within, and a bounded check of a
decoded JSON value.

A session is read from the network (a cookie) or from a store an attacker may
have written to; no decoder reads more than L{Limits.maxSize} bytes, nests
deeper than L{Limits.maxDepth}, or makes more than L{Limits.maxElements}
values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ratchet_tx.session.errors import MalformedSession

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class Limits:
    """
    Bounds on one encoded session.

    @ivar maxSize: the largest encoded session, in bytes (after
        decompression too, for formats that compress).  Cookies are at most
        about 4 KiB in every browser; stores may hold more.
    @ivar maxDepth: how deeply containers (arrays, objects, lists, maps) may
        nest.  PHP's own unserializer allows 4096; a session needs far less.
    @ivar maxElements: how many values (containers and scalars together)
        one session may decode to.
    """

    maxSize: int = 1 * MiB
    maxDepth: int = 64
    maxElements: int = 100_000

    def checkSize(self, size: int) -> None:
        """
        @raise MalformedSession: if C{size} bytes are more than L{maxSize}.
        """
        if size > self.maxSize:
            raise MalformedSession(f"{size} bytes is over the limit of {self.maxSize}")


#: The limits used where none are given.
DEFAULT_LIMITS = Limits()


def checkJSONValue(value: Any, limits: Limits) -> None:
    """
    Check a value made by C{json.loads} against C{limits}: its nesting depth
    and how many values it holds.  Iterative: no recursion, however deep.

    @raise MalformedSession: if a limit is exceeded.
    """
    elements = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        elements += 1
        if elements > limits.maxElements:
            raise MalformedSession(f"more than {limits.maxElements} values")
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limits.maxDepth:
            raise MalformedSession(f"nested deeper than {limits.maxDepth}")
        stack.extend((child, depth + 1) for child in children)
