"""
L{ratchet_tx.session.codecs.phpsession} against PHP's own session module:
Debian's C{php-cli} writes C{$_SESSION} with C{session_encode()} under each
C{session.serialize_handler} (C{tests/session/php/encode_session.php}: nested
arrays, objects with every visibility, a C{Serializable}, an enum,
references, a cycle, floats, booleans, unicode and binary strings), and real
C{serialize()} writes random JSON-able values for a property test.
"""

from __future__ import annotations

import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.session.codecs.limits import Limits
from ratchet_tx.session.codecs.php import PHPCustomObject, PHPEnum, PHPObject, unserialize
from ratchet_tx.session.codecs.phpsession import SerializeHandler, decodeSession
from ratchet_tx.session.errors import MalformedSession
from tests.session import frameworks
from tests.session.frameworks import phpSerializeAll, runPHP

HANDLERS = [handler.value for handler in SerializeHandler]


class RealSessionTests(SynchronousTestCase):
    """What PHP wrote, under each handler, decodes to the same session."""

    def encoded(self, handler: str) -> bytes:
        return runPHP(self, "encode_session.php", handler)

    def assertTheFixture(self, session: dict) -> None:
        user = session["user"]
        self.assertEqual(
            user,
            PHPObject(
                "User",
                {"name": "ada", "\x00*\x00roles": {0: "admin", 1: "dev"},
                 "\x00User\x00password": "hunter2"},
            ),
        )
        self.assertIs(session["again"], user)
        self.assertEqual(session["nested"], {"a": {"b": {"c": {0: 1, 1: 2, 2: {0: 3, 1: {0: 4}}}}}})
        self.assertEqual(session["list"], {0: "x", 1: "y", 2: "z"})
        self.assertEqual(
            session["map"], {10: "ten", 11: "eleven", "012": "zero-twelve", -5: "minus five"}
        )
        floats = list(session["floats"].values())
        self.assertEqual(floats[:6], [0.1, -2.5, 1e100, 1.5e-7, math.inf, -math.inf])
        self.assertTrue(math.isnan(floats[6]))
        self.assertEqual(math.copysign(1, floats[7]), -1.0)
        self.assertEqual(floats[8], 3.0)
        self.assertIs(type(floats[8]), float)
        self.assertEqual(session["ints"], {0: 0, 1: -1, 2: 2**63 - 1, 3: -(2**63)})
        self.assertEqual(session["bools"], {0: True, 1: False, 2: None})
        self.assertEqual(session["unicode"], "héllo wörld ☃ 日本 🎉")
        self.assertEqual(session["binary"], b"\x00\xff\xfe binary")
        self.assertEqual(session["empty"], {0: "", 1: {}})
        self.assertEqual(session["quote"], 'a "quoted"; s:3:"x"; string|with|pipes')
        self.assertEqual(session["suit"], PHPEnum("Suit", "Hearts"))
        self.assertEqual(session["std"], PHPObject("stdClass", {"k": "v", "n": 1}))
        self.assertEqual(session["custom"], PHPCustomObject("OldStyle", b"x:{}"))
        self.assertEqual(session["ref1"], {"count": 1})
        self.assertIs(session["ref1"], session["ref2"])
        cycle = session["cycle"]["me"]
        self.assertIs(cycle["me"], cycle)

    def test_php(self) -> None:
        self.assertTheFixture(decodeSession(self.encoded("php"), "php"))

    def test_phpBinary(self) -> None:
        self.assertTheFixture(decodeSession(self.encoded("php_binary"), "php_binary"))

    def test_phpSerialize(self) -> None:
        self.assertTheFixture(decodeSession(self.encoded("php_serialize"), "php_serialize"))

    def test_theHandlersAgree(self) -> None:
        sessions = [repr(decodeSession(self.encoded(h), h)) for h in HANDLERS]
        self.assertEqual(len(set(sessions)), 1)

    def test_otherHandlersFormatIsMalformed(self) -> None:
        for written in HANDLERS:
            data = self.encoded(written)
            for read in HANDLERS:
                if read != written:
                    self.assertRaises(MalformedSession, decodeSession, data, read)

    def test_everyTruncationIsMalformed(self) -> None:
        for handler in HANDLERS:
            data = self.encoded(handler)
            # A cut that falls between two variables is a shorter, valid
            # session in the php and php_binary formats; any other is not.
            valid = 0
            for end in range(1, len(data)):
                try:
                    decodeSession(data[:end], handler)
                except MalformedSession:
                    continue
                valid += 1
            self.assertLessEqual(valid, 0 if handler == "php_serialize" else 21, handler)

    def test_limits(self) -> None:
        data = self.encoded("php")
        self.assertRaises(MalformedSession, decodeSession, data, "php", Limits(maxSize=100))
        self.assertRaises(MalformedSession, decodeSession, data, "php", Limits(maxDepth=4))
        self.assertRaises(MalformedSession, decodeSession, data, "php", Limits(maxElements=50))
        self.assertTheFixture(decodeSession(data, "php", Limits(maxDepth=6, maxElements=200)))

    def test_emptySession(self) -> None:
        for handler in HANDLERS:
            self.assertEqual(decodeSession(b"", handler), {})

    def test_phpSerializeMustBeAnArray(self) -> None:
        self.assertRaises(MalformedSession, decodeSession, b"i:1;", "php_serialize")
        self.assertRaises(MalformedSession, decodeSession, b"a:0:{}N;", "php_serialize")

    def test_formatErrors(self) -> None:
        self.assertRaises(MalformedSession, decodeSession, b"name", "php")
        self.assertRaises(MalformedSession, decodeSession, b"a|N;b", "php")
        self.assertRaises(MalformedSession, decodeSession, b"\x05abc", "php_binary")
        self.assertRaises(MalformedSession, decodeSession, b"\x01a", "php_binary")
        self.assertRaises(ValueError, decodeSession, b"", "wddx")
        self.assertEqual(decodeSession(b"\x81aN;", "php_binary"), {"a": None})

    def test_installLineWhenPHPIsMissing(self) -> None:
        self.patch(frameworks.shutil, "which", lambda name: None)
        failure = self.assertRaises(self.failureException, frameworks.requirePHP, self)
        self.assertIn("apt-get install php-cli", str(failure))


_json = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=6), children, max_size=4),
    ),
    max_leaves=20,
)


def _asPHP(value: object) -> object:
    """What a JSON value is once PHP decoded it as arrays."""
    if isinstance(value, list):
        return {index: _asPHP(item) for index, item in enumerate(value)}
    if isinstance(value, dict):
        result: dict[object, object] = {}
        for key, item in value.items():
            if re.fullmatch(r"-?[1-9][0-9]*|0", key) and -(2**63) <= int(key) < 2**63:
                result[int(key)] = _asPHP(item)
            else:
                result[key] = _asPHP(item)
        return result
    return value


class RealSerializePropertyTests(SynchronousTestCase):
    """Random values through PHP's own C{serialize()}, read back."""

    @given(st.lists(_json, min_size=50, max_size=50))
    @settings(max_examples=4, deadline=None)
    def test_whatPHPSerializesReadsBack(self, values: list) -> None:
        for value, raw in zip(values, phpSerializeAll(self, values), strict=True):
            self.assertEqual(unserialize(raw), _asPHP(value), raw)
