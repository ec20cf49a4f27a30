"""
L{ratchet_tx.session.codecs.php}: PHP's C{unserialize} grammar, its limits,
and properties (it never raises anything but L{MalformedSession}; it
reads back what a PHP serializer writes).  What real PHP writes is in
L{tests.session.test_phpsession}.
"""

from __future__ import annotations

import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.session.codecs.limits import Limits
from ratchet_tx.session.codecs.php import (
    PHPCustomObject,
    PHPEnum,
    PHPObject,
    Unserializer,
    unserialize,
)
from ratchet_tx.session.errors import MalformedSession
from tests.session.phpserialize import serialize


class ScalarTests(SynchronousTestCase):
    def test_scalars(self) -> None:
        cases = {
            b"N;": None,
            b"b:1;": True,
            b"b:0;": False,
            b"i:0;": 0,
            b"i:-42;": -42,
            b"i:+7;": 7,
            b"i:007;": 7,
            b"i:9223372036854775807;": 2**63 - 1,
            b"i:-9223372036854775808;": -(2**63),
            b"d:0.5;": 0.5,
            b"d:-2.5E-7;": -2.5e-7,
            b"d:1.0E+25;": 1e25,
            b"d:3;": 3.0,
            b"d:.5;": 0.5,
            b"d:5.;": 5.0,
            b"d:1e3;": 1000.0,
            b"d:INF;": math.inf,
            b"d:-INF;": -math.inf,
            b's:0:"";': "",
            b's:5:"h\xc3\xa9!!";': "hé!!",
            b's:3:"a";";': 'a";',
            b's:2:"\xff\x00";': b"\xff\x00",
        }
        for data, expected in cases.items():
            value = unserialize(data)
            self.assertEqual(value, expected, data)
            self.assertIs(type(value), type(expected), data)

    def test_nanAndNegativeZero(self) -> None:
        self.assertTrue(math.isnan(unserialize(b"d:NAN;")))
        zero = unserialize(b"d:-0;")
        self.assertEqual(zero, 0.0)
        self.assertEqual(math.copysign(1, zero), -1)

    def test_malformedScalars(self) -> None:
        for data in [
            b"", b"N", b"b:2;", b"b:1", b"i:;", b"i:1.5;", b"i:0x10;", b"i: 1;",
            b"i:9223372036854775808;", b"i:-9223372036854775809;",
            b"i:" + b"9" * 5000 + b";",
            b"d:inf;", b"d:nan;", b"d:1_000;", b"d:;", b"d:1e;", b"d:--1;",
            b's:3:"ab";', b's:1:"ab";', b's:2:"ab"', b"s:2:ab;", b's:-1:"";',
            b's:99999999999999999999999:"";', b"S:1:\"a\";", b"x:1;", b"I:1;",
        ]:
            self.assertRaises(MalformedSession, unserialize, data)

    def test_nothingAfterTheValue(self) -> None:
        self.assertRaises(MalformedSession, unserialize, b"N;N;")
        reader = Unserializer(b"i:1;i:2;")
        self.assertEqual((reader.read(), reader.read()), (1, 2))
        self.assertTrue(reader.atEnd)


class ContainerTests(SynchronousTestCase):
    def test_array(self) -> None:
        value = unserialize(b'a:3:{i:0;s:1:"x";s:1:"k";a:0:{}i:5;N;}')
        self.assertEqual(value, {0: "x", "k": {}, 5: None})
        self.assertEqual(list(value), [0, "k", 5])

    def test_numericStringKeysAreInts(self) -> None:
        value = unserialize(
            b'a:5:{s:2:"12";i:1;s:3:"012";i:2;s:2:"-3";i:3;s:2:"-0";i:4;'
            b's:20:"92233720368547758070";i:5;}'
        )
        self.assertEqual(
            value, {12: 1, "012": 2, -3: 3, "-0": 4, "92233720368547758070": 5}
        )

    def test_laterDuplicateKeyWins(self) -> None:
        self.assertEqual(unserialize(b"a:2:{i:1;i:1;i:1;i:2;}"), {1: 2})

    def test_object(self) -> None:
        value = unserialize(
            b'O:4:"User":3:{s:4:"name";s:3:"ada";s:7:"\x00*\x00role";s:5:"admin";i:3;b:1;}'
        )
        self.assertIsInstance(value, PHPObject)
        self.assertEqual(value.className, "User")
        self.assertEqual(dict(value), {"name": "ada", "\x00*\x00role": "admin", "3": True})
        self.assertEqual(
            value, PHPObject("User", {"name": "ada", "\x00*\x00role": "admin", "3": True})
        )
        self.assertNotEqual(value, PHPObject("Other", dict(value)))
        self.assertIn("User", repr(value))

    def test_namespacedClass(self) -> None:
        value = unserialize(b'O:13:"App\\Model\\Foo":0:{}')
        self.assertEqual(value.className, "App\\Model\\Foo")

    def test_customObject(self) -> None:
        value = unserialize(b'C:6:"Legacy":8:{x:{}}\x00;"}')
        self.assertEqual(value, PHPCustomObject("Legacy", b'x:{}}\x00;"'))

    def test_enum(self) -> None:
        self.assertEqual(unserialize(b'E:11:"Suit:Hearts";'), PHPEnum("Suit", "Hearts"))

    def test_malformedContainers(self) -> None:
        for data in [
            b"a:1:{}", b"a:0:{", b"a:1:{i:0;N;", b"a:1:{i:0;N;}}", b"a:1:{N;N;}",
            b"a:1:{d:1.5;N;}", b"a:1:{a:0:{}N;}", b"a:-1:{}", b"a:1:[i:0;N;]",
            b'O:0:"":0:{}', b'O:4:"\\Foo":0:{}', b'O:3:"a b":0:{}', b'O:3:"Foo":1:{}',
            b'O:3:"Foo":-1:{}', b'O:3:"Foo"0:{}', b'O:3:"Foo":0:{', b"O:3:Foo:0:{}",
            b'C:3:"Foo":5:{x}', b'C:3:"Foo":-1:{}', b'C:3:"Foo":1:{xx', b'C:3:"Foo":1:{x',
            b'E:4:"Suit";', b'E:5:"Suit:";', b'E:6:":Heart";', b'E:8:"Suit:Big', b'E:3:"a b";',
            b"a:999999999:{i:0;N;}",
        ]:
            self.assertRaises(MalformedSession, unserialize, data)


class ReferenceTests(SynchronousTestCase):
    def test_objectReference(self) -> None:
        value = unserialize(b'a:2:{i:0;O:1:"A":0:{}i:1;r:2;}')
        self.assertIs(value[0], value[1])

    def test_selfReferencingObject(self) -> None:
        value = unserialize(b'O:8:"stdClass":1:{s:4:"self";r:1;}')
        self.assertIs(value["self"], value)

    def test_phpReference(self) -> None:
        value = unserialize(b'a:2:{i:0;a:1:{i:0;i:1;}i:1;R:2;}')
        self.assertIs(value[0], value[1])

    def test_referenceToAScalar(self) -> None:
        self.assertEqual(unserialize(b'a:2:{i:0;s:1:"x";i:1;R:2;}'), {0: "x", 1: "x"})

    def test_cycleThroughAnArray(self) -> None:
        value = unserialize(b'a:1:{s:2:"me";a:1:{s:2:"me";R:2;}}')
        inner = value["me"]
        self.assertIs(inner["me"], inner)

    def test_slotsCountEveryValueButR(self) -> None:
        # Slots: 1 the array, 2 N, 3 the object, (R: no slot), 4 the r: copy.
        value = unserialize(b'a:4:{i:0;N;i:1;O:1:"A":0:{}i:2;R:3;i:3;r:3;}')
        self.assertIs(value[1], value[2])
        self.assertIs(value[1], value[3])

    def test_badReferences(self) -> None:
        for data in [
            b"r:1;", b"R:1;", b"a:1:{i:0;R:0;}", b"a:1:{i:0;R:3;}", b"a:1:{i:0;r:2;}",
            b"a:2:{i:0;i:5;i:1;r:2;}", b"a:1:{i:0;r:1;}", b"a:1:{i:0;R:99999999999999999999;}",
        ]:
            self.assertRaises(MalformedSession, unserialize, data)


class LimitTests(SynchronousTestCase):
    def test_depth(self) -> None:
        limits = Limits(maxDepth=3)
        self.assertEqual(
            unserialize(b"a:1:{i:0;a:1:{i:0;a:0:{}}}", limits), {0: {0: {}}}
        )
        self.assertRaises(
            MalformedSession, unserialize, b"a:1:{i:0;a:1:{i:0;a:1:{i:0;a:0:{}}}}", limits
        )
        self.assertRaises(
            MalformedSession, unserialize, b'a:1:{i:0;a:1:{i:0;O:1:"A":1:{i:0;a:0:{}}}}', limits
        )

    def test_veryDeepPayloadNeedsNoRecursion(self) -> None:
        depth = 200_000
        data = b"a:1:{i:0;" * depth + b"N;" + b"}" * depth
        self.assertRaises(MalformedSession, unserialize, data, Limits(maxSize=10**7))
        # Even allowed, so deep a value is built without recursion.
        value = unserialize(data, Limits(maxSize=10**7, maxDepth=depth, maxElements=10**6))
        for _ in range(depth):
            value = value[0]
        self.assertIsNone(value)

    def test_size(self) -> None:
        self.assertRaises(MalformedSession, unserialize, b"N;" * 10, Limits(maxSize=19))
        self.assertRaises(MalformedSession, Unserializer, b"x" * 21, Limits(maxSize=20))

    def test_elements(self) -> None:
        limits = Limits(maxElements=4)
        self.assertEqual(
            unserialize(b"a:3:{i:0;N;i:1;N;i:2;N;}", limits), {0: None, 1: None, 2: None}
        )
        self.assertRaises(MalformedSession, unserialize, b"a:4:{i:0;N;i:1;N;i:2;N;i:3;N;}", limits)
        self.assertRaises(MalformedSession, unserialize, b"a:5:{}", limits)

    def test_declaredCountMustFit(self) -> None:
        self.assertRaises(MalformedSession, unserialize, b"a:100000:{i:0;N;}")
        self.assertRaises(MalformedSession, unserialize, b'O:1:"A":100000:{}')


# Hypothesis: arbitrary bytes, and PHP values through a test-only serializer.

_keys = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(max_size=8).filter(lambda s: not re.fullmatch(r"-?[0-9]+", s)),
)
_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}(\\[A-Za-z_][A-Za-z0-9_]{0,5})?", fullmatch=True)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.binary(max_size=10).filter(lambda b: _notUTF8(b)),
    st.builds(PHPEnum, _names, _names),
    st.builds(PHPCustomObject, _names, st.binary(max_size=12)),
)


def _notUTF8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _containers(children: st.SearchStrategy) -> st.SearchStrategy:
    arrays = st.dictionaries(_keys, children, max_size=5)
    objects = st.builds(
        PHPObject, _names, st.dictionaries(st.text(max_size=6), children, max_size=4)
    )
    return st.one_of(arrays, objects)


_values = st.recursive(_scalars, _containers, max_leaves=30)


class PropertyTests(SynchronousTestCase):
    @given(st.binary(max_size=200))
    @settings(max_examples=500, deadline=None)
    def test_arbitraryBytesRaiseOnlyMalformedSession(self, data: bytes) -> None:
        try:
            unserialize(data)
        except MalformedSession:
            pass

    @given(_values)
    @settings(max_examples=300, deadline=None)
    def test_roundTrip(self, value: object) -> None:
        self.assertEqual(unserialize(serialize(value)), value)

    @given(_values, st.data())
    @settings(max_examples=300, deadline=None)
    def test_corruptedSerializationsRaiseOnlyMalformedSession(self, value, data) -> None:
        raw = bytearray(serialize(value))
        edit = data.draw(st.sampled_from(["truncate", "flip", "insert"]))
        at = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        if edit == "truncate":
            del raw[at:]
        elif edit == "flip":
            raw[at] = data.draw(st.integers(min_value=0, max_value=255))
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=4))
        try:
            unserialize(bytes(raw))
        except MalformedSession:
            pass

    def test_everyTruncationIsMalformed(self) -> None:
        raw = serialize(
            {"a": PHPObject("A", x=[1] and {0: 1.5, 1: "two"}), 3: PHPEnum("E", "C"), "n": None}
        )
        for end in range(len(raw)):
            self.assertRaises(MalformedSession, unserialize, raw[:end])
