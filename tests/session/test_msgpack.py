"""
L{ratchet_tx.session.codecs.msgpack} against the C{msgpack} package and
Flask-Session's own serializer (C{msgspec}), its limits, and arbitrary bytes.
"""

from __future__ import annotations

import datetime
import math

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.session.codecs.limits import Limits
from ratchet_tx.session.codecs.msgpack import ExtType, unpackb
from ratchet_tx.session.errors import MalformedSession

UTC = datetime.timezone.utc

_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64 - 1),
        st.floats(allow_nan=False), st.text(max_size=40), st.binary(max_size=40),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=20),
        st.dictionaries(
            st.one_of(st.text(max_size=8), st.integers(min_value=-(2**63), max_value=2**63)),
            children,
            max_size=20,
        ),
    ),
    max_leaves=40,
)


class MsgpackTests(SynchronousTestCase):
    @given(_values)
    @settings(max_examples=300, deadline=None)
    def test_whatMsgpackPacks(self, value: object) -> None:
        self.assertEqual(unpackb(msgpack.packb(value, use_bin_type=True)), value)

    @given(st.binary(max_size=100))
    @settings(max_examples=500, deadline=None)
    def test_arbitraryBytesRaiseOnlyMalformedSession(self, data: bytes) -> None:
        try:
            unpackb(data)
        except MalformedSession:
            pass

    def test_everyWidth(self) -> None:
        for value in [0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1,
                      -1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1,
                      -(2**63), "", "x" * 31, "x" * 32, "x" * 255, "x" * 256, "x" * 65536,
                      b"", b"x" * 256, b"x" * 65536, list(range(15)), list(range(16)),
                      list(range(65536)), {str(i): i for i in range(16)}]:
            self.assertEqual(unpackb(msgpack.packb(value), Limits(maxElements=200_000)), value)
        self.assertEqual(unpackb(msgpack.packb(1.5, use_single_float=True)), 1.5)
        self.assertTrue(math.isnan(unpackb(msgpack.packb(math.nan))))

    def test_timestampsAndExtensions(self) -> None:
        for seconds, nanoseconds in [(0, 0), (2**32 - 1, 0), (1_700_000_000, 123_456_000),
                                     (2**34 - 1, 999_999_000), (-1, 0), (-(2**33), 5000)]:
            packed = msgpack.packb(msgpack.Timestamp(seconds, nanoseconds))
            expected = datetime.datetime(1970, 1, 1, tzinfo=UTC) + datetime.timedelta(
                seconds=seconds, microseconds=nanoseconds // 1000
            )
            self.assertEqual(unpackb(packed), expected)
        for size in (1, 2, 4, 8, 16, 3, 300):
            data = bytes(range(size % 256)) * (size // 256 + 1)
            data = data[:size]
            self.assertEqual(unpackb(msgpack.packb(msgpack.ExtType(5, data))), ExtType(5, data))
        self.assertRaises(MalformedSession, unpackb, b"\xd5\xff\x00\x00")  # 2-byte timestamp
        beyondYear9999 = msgpack.packb(msgpack.Timestamp(2**40, 0))
        self.assertRaises(MalformedSession, unpackb, beyondYear9999)

    def test_flaskSessionSerializer(self) -> None:
        from flask import Flask
        from flask_session.base import MsgSpecSerializer

        when = datetime.datetime(2026, 12, 1, 22, 30, 5, 123000, tzinfo=UTC)
        session = {"_permanent": True, "user": "ada", "roles": ("admin",), "when": when,
                   "blob": b"\x00\xff", "n": 1.25, "nested": {"a": [1, None]}}
        encoded = MsgSpecSerializer(Flask("t"), format="msgpack").encode(session)
        self.assertEqual(unpackb(encoded), {**session, "roles": ["admin"]})

    def test_malformed(self) -> None:
        for data in [b"", b"\xc1", b"\x92\x01", b"\x81\x01", b"\xa5abc", b"\xa2\xff\xfe",
                     b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff",
                     b"\x81\x91\x01\x02", b"\x01\x02", b"\xcb\x00"]:
            self.assertRaises(MalformedSession, unpackb, data)

    def test_limits(self) -> None:
        deep = b"\x91" * 100_000 + b"\xc0"
        self.assertRaises(MalformedSession, unpackb, deep)
        value = unpackb(deep, Limits(maxDepth=100_000, maxElements=200_000))
        for _ in range(100_000):
            [value] = value
        self.assertIsNone(value)
        self.assertRaises(MalformedSession, unpackb, msgpack.packb(list(range(10))),
                          Limits(maxElements=10))
        self.assertRaises(MalformedSession, unpackb, msgpack.packb("x" * 100), Limits(maxSize=50))
