"""
L{ratchet_tx.session.codecs.signing}: strict base64, constant-time checks,
bounded inflation and JSON.
"""

from __future__ import annotations

import base64
import time
import zlib

from hypothesis import given, settings
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
from ratchet_tx.session.errors import BadSignature, InvalidSession, MalformedSession


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


class ArbitraryCookieTests(SynchronousTestCase):
    """Whatever a client sends as a cookie, a codec raises only InvalidSession."""

    @given(st.text(max_size=300) | st.binary(max_size=300))
    @settings(max_examples=300, deadline=None)
    def test_onlyInvalidSession(self, cookie: str | bytes) -> None:
        from ratchet_tx.session.codecs import django, flask, starlette

        codecs = [
            lambda c: django.loads(c, "k", salt=django.SIGNED_COOKIES_SALT, now=0),
            lambda c: flask.loads(c, "k", now=0),
            lambda c: starlette.loads(c, "k", now=0),
        ]
        for loads in codecs:
            try:
                loads(cookie)
            except InvalidSession:
                pass

    @given(st.text(max_size=200))
    @settings(max_examples=200, deadline=None)
    def test_signedGarbageOnlyInvalidSession(self, payload: str) -> None:
        """Properly signed (by the real signers) but arbitrary payloads."""
        import itsdangerous

        from ratchet_tx.session.codecs import django, flask, starlette
        from tests.session.frameworks import configureDjango

        configureDjango()
        from django.core import signing

        now = time.time()
        signed = [
            (signing.TimestampSigner(key="k", salt=django.SIGNED_COOKIES_SALT).sign(payload),
             lambda c: django.loads(c, "k", salt=django.SIGNED_COOKIES_SALT, now=now)),
            (itsdangerous.TimestampSigner("k", salt="cookie-session", key_derivation="hmac")
             .sign(payload), lambda c: flask.loads(c, "k", now=now)),
            (itsdangerous.TimestampSigner("k").sign(payload),
             lambda c: starlette.loads(c, "k", now=now)),
        ]
        for cookie, loads in signed:
            try:
                loads(cookie)
            except InvalidSession:
                pass
