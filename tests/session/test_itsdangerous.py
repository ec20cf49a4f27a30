"""
L{ratchet_tx.session.codecs.itsdangerous} against itsdangerous's own
C{TimestampSigner}, with both key derivations the frameworks use.
"""

from __future__ import annotations

import hashlib

import itsdangerous as real
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.session.codecs import itsdangerous as codec
from ratchet_tx.session.codecs.itsdangerous import KeyDerivation
from ratchet_tx.session.errors import BadSignature, InvalidSession, MalformedSession, SessionExpired


class FixedSigner(real.TimestampSigner):
    """itsdangerous's signer, signing at a chosen time."""

    at = 1_700_000_000

    def get_timestamp(self) -> int:
        return self.at


def sign(value: bytes, key: str = "secret", salt: bytes = b"itsdangerous.Signer",
         derivation: KeyDerivation = KeyDerivation.DJANGO_CONCAT, digest=hashlib.sha1) -> bytes:
    return FixedSigner(key, salt=salt, key_derivation=derivation.value,
                       digest_method=digest).sign(value)


def unsign(signed: bytes, key: str | bytes = "secret", **kwargs) -> bytes:
    kwargs.setdefault("salt", b"itsdangerous.Signer")
    kwargs.setdefault("derivation", KeyDerivation.DJANGO_CONCAT)
    kwargs.setdefault("now", FixedSigner.at)
    return codec.unsign(signed, key, **kwargs)


class UnsignTests(SynchronousTestCase):
    def test_bothDerivations(self) -> None:
        for derivation in KeyDerivation:
            signed = sign(b"payload.with.dots", salt=b"salty", derivation=derivation)
            self.assertEqual(
                unsign(signed, salt=b"salty", derivation=derivation), b"payload.with.dots"
            )
            other = KeyDerivation.HMAC if derivation is KeyDerivation.DJANGO_CONCAT else (
                KeyDerivation.DJANGO_CONCAT)
            self.assertRaises(BadSignature, unsign, signed, salt=b"salty", derivation=other)
            self.assertRaises(BadSignature, unsign, signed, salt=b"pepper", derivation=derivation)

    def test_otherDigest(self) -> None:
        signed = sign(b"v", digest=hashlib.sha256)
        self.assertEqual(unsign(signed, digest=hashlib.sha256), b"v")
        self.assertRaises(BadSignature, unsign, signed)

    def test_keysNewestFirst(self) -> None:
        signed = sign(b"v", key="old")
        self.assertEqual(unsign(signed, "new", fallbackKeys=["old"]), b"v")
        self.assertEqual(unsign(signed, b"old"), b"v")
        self.assertRaises(BadSignature, unsign, signed, "new")

    def test_maxAgeBothWays(self) -> None:
        signed = sign(b"v")
        self.assertEqual(unsign(signed, maxAge=60, now=FixedSigner.at + 60.9), b"v")
        self.assertRaises(SessionExpired, unsign, signed, maxAge=60, now=FixedSigner.at + 61)
        # itsdangerous also refuses a signature from the future.
        self.assertRaises(SessionExpired, unsign, signed, maxAge=60, now=FixedSigner.at - 1)
        self.assertEqual(unsign(signed, maxAge=None, now=0), b"v")
        real.TimestampSigner("secret").unsign(sign(b"v"), max_age=10**10)

    def test_malformed(self) -> None:
        for bad in [b"", b"nodots", b"a.b", b"..", b"v.!!!.sig", b"v.AAAAAAAAAAAAAA.sig"]:
            self.assertRaises(InvalidSession, unsign, bad)
        # A good signature over a value without a timestamp.
        plain = real.Signer("secret").sign(b"value")
        self.assertRaises(MalformedSession, unsign, plain)
        # A timestamp longer than itsdangerous ever packs, signed properly.
        signer = real.Signer("secret")
        long = signer.sign(b"value." + real.encoding.base64_encode(b"\x01" * 9))
        self.assertRaises(MalformedSession, unsign, long)
