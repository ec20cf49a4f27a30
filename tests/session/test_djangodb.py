"""
L{DjangoDatabaseStore} reading the rows Django's own C{db} C{SessionStore}
writes to an SQLite C{django_session} table made by Django's migration, in
its thread pool on the real reactor.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.trial.unittest import SynchronousTestCase, TestCase

from ratchet_tx.session import DjangoDatabaseStore
from ratchet_tx.session.errors import BadSignature, MalformedSession, SessionUnavailable
from tests.session.frameworks import OLD_SECRET, SECRET, configureDjango, djangoSession
from tests.session.helpers import nowClock

DATA = {"_auth_user_id": "1", "name": "Ada ☃", "cart": [1, 2, {"sku": "x"}]}


def connectTo(path: str):
    return lambda: sqlite3.connect(path, check_same_thread=False)


class DjangoDatabaseStoreTests(TestCase):
    timeout = 20

    def setUp(self) -> None:
        self.path = configureDjango()

    def store(self, connect: Any = None, **kwargs: Any) -> DjangoDatabaseStore:
        kwargs.setdefault("clock", nowClock())
        store = DjangoDatabaseStore(connect or connectTo(self.path), SECRET, **kwargs)
        self.addCleanup(store.close)
        return store

    def execute(self, sql: str, *params: Any) -> None:
        with sqlite3.connect(self.path) as connection:
            connection.execute(sql, params)

    @inlineCallbacks
    def test_readsTheRow(self) -> Any:
        key = djangoSession("db", DATA)
        store = self.store()
        self.assertEqual(store.cookieName, "sessionid")
        self.assertEqual((yield store.load(key)), DATA)
        # Again, on the thread's connection, and after Django changed it.
        self.execute(
            "UPDATE django_session SET session_data = ? WHERE session_key = ?",
            self._encode({"name": "Grace"}), key,
        )
        self.assertEqual((yield store.load(key)), {"name": "Grace"})

    @inlineCallbacks
    def test_unknownKeyIsNoSession(self) -> Any:
        self.assertIsNone((yield self.store().load("a" * 32)))

    @inlineCallbacks
    def test_expiredRowIsNoSession(self) -> Any:
        key = djangoSession("db", DATA)
        twoWeeks = 14 * 24 * 3600
        self.assertEqual((yield self.store(clock=nowClock(twoWeeks - 60)).load(key)), DATA)
        self.assertIsNone((yield self.store(clock=nowClock(twoWeeks + 60)).load(key)))
        self.execute(
            "UPDATE django_session SET expire_date = ? WHERE session_key = ?",
            "2000-01-01 00:00:00", key,
        )
        self.assertIsNone((yield self.store().load(key)))

    @inlineCallbacks
    def test_keysDjangoWouldNotMake(self) -> Any:
        store = self.store(connect=self._neverCalled)
        for key in ["", "short", "x" * 41, "ABCDEFGHIJKL", "' OR 1=1 --", "a" * 31 + "\x00"]:
            with self.assertRaises(MalformedSession):
                yield store.load(key)

    def _neverCalled(self) -> None:
        raise AssertionError("the database was asked")

    @inlineCallbacks
    def test_badSessionData(self) -> Any:
        key = djangoSession("db", DATA)
        for data, error in [("garbage", MalformedSession), ("", MalformedSession),
                            (self._encode(DATA, key=OLD_SECRET), BadSignature),
                            (self._encode([1, 2]), MalformedSession)]:
            self.execute(
                "UPDATE django_session SET session_data = ? WHERE session_key = ?", data, key
            )
            with self.assertRaises(error):
                yield self.store().load(key)

    @inlineCallbacks
    def test_fallbackKeys(self) -> Any:
        key = djangoSession("db", DATA, SECRET_KEY=OLD_SECRET)
        with self.assertRaises(BadSignature):
            yield self.store().load(key)
        self.assertEqual((yield self.store(fallbackKeys=[OLD_SECRET]).load(key)), DATA)

    @inlineCallbacks
    def test_databaseDown(self) -> Any:
        def refuse() -> None:
            raise sqlite3.OperationalError("unable to open database file")

        with self.assertRaises(SessionUnavailable):
            yield self.store(connect=refuse).load("a" * 32)
        with self.assertRaises(SessionUnavailable):
            yield self.store(table="no_such_table").load("a" * 32)

    @inlineCallbacks
    def test_reconnectsAfterAnError(self) -> Any:
        key = djangoSession("db", DATA)
        connections: list[sqlite3.Connection] = []

        def connect() -> sqlite3.Connection:
            connection = sqlite3.connect(self.path, check_same_thread=False)
            connections.append(connection)
            return connection

        store = self.store(connect=connect, maxThreads=1)
        self.assertEqual((yield store.load(key)), DATA)
        connections[0].close()  # the database went away under it
        with self.assertRaises(SessionUnavailable):
            yield store.load(key)
        self.assertEqual((yield store.load(key)), DATA)
        self.assertEqual(len(connections), 2)

    @inlineCallbacks
    def test_closed(self) -> Any:
        key = djangoSession("db", DATA)
        store = self.store()
        self.assertEqual((yield store.load(key)), DATA)
        store.close()
        with self.assertRaises(SessionUnavailable):
            yield store.load(key)
        store.close()

    def test_lookupsRunOutsideTheReactorThread(self) -> Deferred:
        import threading

        key = djangoSession("db", DATA)
        threads: list[threading.Thread] = []

        def connect() -> sqlite3.Connection:
            threads.append(threading.current_thread())
            return sqlite3.connect(self.path, check_same_thread=False)

        d = self.store(connect=connect).load(key)

        def check(data: Any) -> None:
            self.assertEqual(data, DATA)
            self.assertNotIn(threading.main_thread(), threads)

        return d.addCallback(check)

    def _encode(self, data: Any, key: str = SECRET) -> str:
        from django.contrib.sessions.backends.db import SessionStore
        from django.test.utils import override_settings

        with override_settings(SECRET_KEY=key):
            return str(SessionStore().encode(data))


class ParamstyleTests(SynchronousTestCase):
    """Every DB-API paramstyle gets its placeholder and parameters."""

    def test_paramstyles(self) -> None:
        expected = {
            "qmark": ("?", ("k" * 32,)),
            "numeric": (":1", ("k" * 32,)),
            "named": (":key", {"key": "k" * 32}),
            "format": ("%s", ("k" * 32,)),
            "pyformat": ("%(key)s", {"key": "k" * 32}),
        }
        for style, (placeholder, params) in expected.items():
            calls: list[tuple[str, Any]] = []
            connection = _RecordingConnection(calls)
            store = DjangoDatabaseStore(lambda c=connection: c, SECRET, paramstyle=style)
            self.assertIsNone(store._fetch("k" * 32))
            [(sql, given)] = calls
            self.assertTrue(sql.endswith(f"WHERE session_key = {placeholder}"), sql)
            self.assertEqual(given, params)

    def test_badArguments(self) -> None:
        self.assertRaises(ValueError, DjangoDatabaseStore, sqlite3.connect, SECRET, paramstyle="x")
        self.assertRaises(ValueError, DjangoDatabaseStore, sqlite3.connect, SECRET, table="a; DROP")
        self.assertRaises(ValueError, DjangoDatabaseStore, sqlite3.connect, "")


class _RecordingConnection:
    def __init__(self, calls: list) -> None:
        self.calls = calls

    def cursor(self) -> _RecordingConnection:
        return self

    def execute(self, sql: str, params: Any) -> None:
        self.calls.append((sql, params))

    def fetchone(self) -> None:
        return None

    def close(self) -> None:
        pass

    def rollback(self) -> None:
        pass

