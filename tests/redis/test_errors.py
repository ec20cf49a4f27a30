"""
The four errors: an error reply is a value with its code; a timeout is a kind
of unavailability.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.redis import RedisError, RedisProtocolError, RedisTimeout, RedisUnavailable


class ErrorTests(SynchronousTestCase):
    def test_code(self) -> None:
        self.assertEqual(RedisError("WRONGTYPE Operation against a key").code, "WRONGTYPE")
        self.assertEqual(RedisError("NOSCRIPT No matching script").code, "NOSCRIPT")
        self.assertEqual(RedisError("ERR").code, "ERR")
        self.assertEqual(RedisError("something lower-case").code, "")
        self.assertEqual(RedisError("").code, "")

    def test_equality(self) -> None:
        self.assertEqual(RedisError("ERR x"), RedisError("ERR x"))
        self.assertNotEqual(RedisError("ERR x"), RedisError("ERR y"))
        self.assertEqual(len({RedisError("ERR x"), RedisError("ERR x")}), 1)
        self.assertEqual(repr(RedisError("ERR x")), "RedisError('ERR x')")
        self.assertEqual(str(RedisError("ERR x")), "ERR x")

    def test_timeoutIsUnavailable(self) -> None:
        """Catching RedisUnavailable covers timeouts too."""
        self.assertTrue(issubclass(RedisTimeout, RedisUnavailable))
        self.assertFalse(issubclass(RedisError, RedisUnavailable))

    def test_protocolErrorCarriesReplies(self) -> None:
        error = RedisProtocolError("bad", ["OK"])
        self.assertEqual((str(error), list(error.replies)), ("bad", ["OK"]))
