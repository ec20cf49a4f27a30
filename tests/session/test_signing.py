"""
L{ratchet_tx.session.codecs.signing}: strict base64, constant-time checks,
bounded inflation and JSON.
"""

from __future__ import annotations

import base64
import zlib

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.session.codecs.limits import Limits
from ratchet_tx.session.codecs.signing import (
    checkSignature,
    inflate,
    loadJSON,
    standardB64Decode,
    urlsafeB64Decode,
    urlsafeB64Encode,
)
from ratchet_tx.session.errors import BadSignature, MalformedSession


class Base64Tests(SynchronousTestCase):
    @given(st.binary(max_size=64))
    def test_roundTrips(self, data: bytes) -> None:
        encoded = urlsafeB64Encode(data)
        self.assertEqual(encoded, base64.urlsafe_b64encode(data).rstrip(b"="))
        self.assertEqual(urlsafeB64Decode(encoded), data)
        self.assertEqual(standardB64Decode(base64.b64encode(data)), data)

    def test_strict(self) -> None:
        for bad in [b"a", b"ab=", b"a+b/", b"ab cd", b"\xff\xfe", b"abcde"]:
            self.assertRaises(MalformedSession, urlsafeB64Decode, bad)
        for bad in [b"abc", b"ab-_", b"a===", b"ab\ncd==", b"=abc"]:
            self.assertRaises(MalformedSession, standardB64Decode, bad)


class SignatureTests(SynchronousTestCase):
    def test_anyKey(self) -> None:
        def sign(key: bytes, value: bytes) -> bytes:
            return key + b"/" + value

        checkSignature(b"v", b"k2/v", [b"k1", b"k2"], sign)
        self.assertRaises(BadSignature, checkSignature, b"v", b"k3/v", [b"k1", b"k2"], sign)
        self.assertRaises(BadSignature, checkSignature, b"v", b"k1/v", [], sign)


class BoundedTests(SynchronousTestCase):
    def test_inflate(self) -> None:
        self.assertEqual(inflate(zlib.compress(b"x" * 1000), Limits(maxSize=1000)), b"x" * 1000)
        tooBig = zlib.compress(b"x" * 1001)
        self.assertRaises(MalformedSession, inflate, tooBig, Limits(maxSize=1000))
        self.assertRaises(MalformedSession, inflate, zlib.compress(b"abc")[:-3], Limits())
        self.assertRaises(MalformedSession, inflate, b"not zlib", Limits())
        self.assertRaises(MalformedSession, inflate, zlib.compress(b"ab") + b"junk", Limits())

    def test_json(self) -> None:
        self.assertEqual(
            loadJSON('{"a": [1, {"b": null}]}', Limits(maxDepth=3)), {"a": [1, {"b": None}]}
        )
        self.assertRaises(MalformedSession, loadJSON, '{"a": [1, {"b": []}]}', Limits(maxDepth=3))
        self.assertRaises(MalformedSession, loadJSON, "[1, 2, 3]", Limits(maxElements=3))
        self.assertRaises(MalformedSession, loadJSON, "[1]", Limits(maxSize=2))
        self.assertRaises(MalformedSession, loadJSON, "{", Limits())
        self.assertRaises(MalformedSession, loadJSON, b"\xff", Limits())
        self.assertRaises(MalformedSession, loadJSON, "[" * 100_000 + "]" * 100_000, Limits())
