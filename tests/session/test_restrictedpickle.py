"""
L{ratchet_tx.session.codecs.restrictedpickle}: what Django's Redis cache
writes is read back under every pickle protocol, and anything that would
run or allocate more than the data is refused.
"""

from __future__ import annotations

import datetime
import decimal
import os
import pickle
import uuid
from collections import OrderedDict
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.session.codecs.limits import Limits
from ratchet_tx.session.codecs.restrictedpickle import loads
from ratchet_tx.session.errors import MalformedSession

SESSION = {
    "_auth_user_id": "42",
    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
    "name": "Ada ☃",
    "when": datetime.datetime(2026, 12, 2, 5, 0, tzinfo=datetime.timezone.utc),
    "day": datetime.date(2026, 12, 2),
    "at": datetime.time(5, 30),
    "delta": datetime.timedelta(days=2, seconds=5),
    "price": decimal.Decimal("12.50"),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "tags": {"a", "b"},
    "frozen": frozenset({1, 2}),
    "ordered": OrderedDict([("x", 1)]),
    "nested": [(1, 2.5, None, True, b"\x00\xff", 3j)],
}


class Exploit:
    def __reduce__(self) -> Any:
        return (os.system, ("true",))


class RestrictedPickleTests(SynchronousTestCase):
    def test_everyProtocolFromTwo(self) -> None:
        """Django writes the highest; 0 and 1 need copyreg for objects."""
        for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
            with self.subTest(protocol=protocol):
                self.assertEqual(loads(pickle.dumps(SESSION, protocol)), SESSION)

    def test_plainDataInEveryProtocol(self) -> None:
        plain = {"name": "Ada", "n": [1, 2.5, None, True], "b": b"\x00\xff"}
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            with self.subTest(protocol=protocol):
                self.assertEqual(loads(pickle.dumps(plain, protocol)), plain)

    def test_namesNotAllowed(self) -> None:
        for value in (Exploit(), bytearray(b"x"), Limits(), ValueError("x")):
            data = pickle.dumps({"x": value}, 2)
            self.assertRaises(MalformedSession, loads, data)

    def test_garbage(self) -> None:
        whole = pickle.dumps(SESSION)
        for data in (b"", b"\x80\x05", whole[: len(whole) // 2], b"not a pickle", b"Q."):
            self.assertRaises(MalformedSession, loads, data)

    def test_forgedArguments(self) -> None:
        # datetime.timedelta(10**20): an allowed constructor refusing its arguments.
        data = b"cdatetime\ntimedelta\n(I" + str(10**20).encode() + b"\ntR."
        self.assertRaises(MalformedSession, loads, data)

    def test_limits(self) -> None:
        deep: Any = []
        for _ in range(100):
            deep = [deep]
        self.assertRaises(MalformedSession, loads, pickle.dumps(deep))
        self.assertRaises(MalformedSession, loads, pickle.dumps("x" * 100), Limits(maxSize=50))
        shared: Any = [0]
        for _ in range(40):
            shared = [shared, shared]  # 2**40 paths, a few hundred bytes
        self.assertRaises(MalformedSession, loads, pickle.dumps(shared), Limits(maxDepth=64))
