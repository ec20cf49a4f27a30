"""
A small PHP C{serialize()} for the tests only (no references): writes the
values L{ratchet_tx.session.codecs.php} reads, for round trips.
"""

from __future__ import annotations

import math
from typing import Any

from ratchet_tx.session.codecs.php import PHPCustomObject, PHPEnum, PHPObject


def _string(prefix: bytes, raw: bytes) -> bytes:
    return prefix + b":%d:\"" % len(raw) + raw + b'";'


def _float(value: float) -> bytes:
    if math.isnan(value):
        return b"d:NAN;"
    if math.isinf(value):
        return b"d:INF;" if value > 0 else b"d:-INF;"
    if value == 0 and math.copysign(1, value) < 0:
        return b"d:-0;"
    return b"d:" + repr(value).encode() + b";"


def _key(key: Any) -> bytes:
    if isinstance(key, int):
        return b"i:%d;" % key
    return serialize(key)


def serialize(value: Any) -> bytes:
    """PHP's C{serialize(value)}, for C{None}, C{bool}, C{int}, C{float},
    C{str}, C{bytes}, C{dict}, and the PHP descriptions."""
    if value is None:
        return b"N;"
    if isinstance(value, bool):
        return b"b:1;" if value else b"b:0;"
    if isinstance(value, int):
        return b"i:%d;" % value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(b"s", value.encode("utf-8"))
    if isinstance(value, bytes):
        return _string(b"s", value)
    if isinstance(value, PHPEnum):
        name = f"{value.className}:{value.case}".encode()
        return _string(b"E", name)
    if isinstance(value, PHPCustomObject):
        name = value.className.encode()
        return (b'C:%d:"' % len(name)) + name + b'":%d:{' % len(value.data) + value.data + b"}"
    if isinstance(value, PHPObject):
        name = value.className.encode()
        body = b"".join(_key(k) + serialize(v) for k, v in value.items())
        return (b'O:%d:"' % len(name)) + name + b'":%d:{' % len(value) + body + b"}"
    if isinstance(value, dict):
        body = b"".join(_key(k) + serialize(v) for k, v in value.items())
        return b"a:%d:{" % len(value) + body + b"}"
    raise TypeError(f"cannot serialize {value!r}")
