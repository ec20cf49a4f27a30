# -*- test-case-name: tests.session.test_djangodb -*-
"""
Django's C{django.contrib.sessions.backends.db}: the cookie is a session
key, the session a row of the C{django_session} table, read here through
any DB-API 2.0 driver in a thread pool the store owns.

The table, as Django's migration creates it::

    django_session(session_key varchar(40) PRIMARY KEY,
                   session_data text,
                   expire_date datetime)   -- indexed

C{session_data} is C{SessionBase.encode()}'s output: Django's signed JSON
(L{ratchet_tx.session.codecs.django}) with the salt
C{"django.contrib.sessions.SessionStore"} and no maximum age.  A row whose
C{expire_date} has passed is no session, as for Django.  Naive datetimes
(SQLite, MySQL) are taken as UTC, which they are under Django's default
C{USE_TZ = True}.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import fail
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from ratchet_tx.session.clock import reactorClock
from ratchet_tx.session.codecs import django
from ratchet_tx.session.codecs.limits import DEFAULT_LIMITS, Limits
from ratchet_tx.session.codecs.signing import Key
from ratchet_tx.session.errors import MalformedSession, SessionUnavailable
from ratchet_tx.session.interfaces import ISessionStore

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorCore, IReactorFromThreads, IReactorTime

log = Logger()

#: Django's session keys: C{get_random_string(32)} of lowercase letters and
#: digits; C{_validate_session_key} wants 8 characters at least, and the
#: column holds 40.
_SESSION_KEY = re.compile(r"[a-z0-9]{8,40}")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")

#: DB-API 2.0 C{paramstyle}s: the placeholder, and how to pass the key.
_PARAMSTYLES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "qmark": ("?", lambda key: (key,)),
    "numeric": (":1", lambda key: (key,)),
    "named": (":key", lambda key: {"key": key}),
    "format": ("%s", lambda key: (key,)),
    "pyformat": ("%(key)s", lambda key: {"key": key}),
}


def _asDatetime(value: Any) -> datetime:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise MalformedSession("unreadable expire_date") from None
    if not isinstance(value, datetime):
        raise MalformedSession("unreadable expire_date")
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


@implementer(ISessionStore)
class DjangoDatabaseStore:
    """
    Sessions of Django's C{db} backend (and the database half of
    C{cached_db})::

        store = DjangoDatabaseStore(lambda: psycopg.connect(DSN), SECRET_KEY,
                                    paramstyle="pyformat")

    Each thread of the pool keeps one connection, made by C{connect} when
    first needed and dropped (to be made again) after an error.  The pool
    starts with the first lookup and stops when the reactor shuts down, or
    at L{close}.

    @param connect: makes a DB-API 2.0 connection (called in a pool thread).
    @param secretKey: Django's C{SECRET_KEY}.
    @param fallbackKeys: Django's C{SECRET_KEY_FALLBACKS}.
    @param paramstyle: the driver's C{paramstyle} (C{sqlite3}: C{"qmark"};
        psycopg, MySQLdb: C{"pyformat"} or C{"format"}).
    @param table: the session table (C{Session._meta.db_table}).
    @param salt: the salt of the session data: C{"django.contrib.sessions."}
        plus the store class's C{__qualname__} (C{"SessionStore"} for
        Django's own backends).
    @param maxThreads: the most lookups at once (threads, and connections).
    @param clock: where the time comes from, for C{expire_date} (the
        reactor by default).
    @param reactor: the reactor the pool reports to (the global one by
        default).
    @param limits: bounds on the session data.
    """

    cookieName = django.SESSION_COOKIE_NAME

    def __init__(
        self,
        connect: Callable[[], Any],
        secretKey: Key,
        *,
        fallbackKeys: Sequence[Key] = (),
        paramstyle: str = "qmark",
        table: str = "django_session",
        salt: str = django.DATABASE_SALT,
        maxThreads: int = 4,
        clock: IReactorTime | None = None,
        reactor: Any = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        if not secretKey:
            raise ValueError("a secret key is required")
        if paramstyle not in _PARAMSTYLES:
            raise ValueError(f"unknown DB-API paramstyle {paramstyle!r}")
        if not _TABLE.fullmatch(table):
            raise ValueError(f"not a table name: {table!r}")
        placeholder, self._params = _PARAMSTYLES[paramstyle]
        self._sql = (
            f"SELECT session_data, expire_date FROM {table} WHERE session_key = {placeholder}"
        )
        self._connect = connect
        self._secretKey = secretKey
        self._fallbackKeys = tuple(fallbackKeys)
        self._salt = salt
        self._clock = clock
        self._reactor = reactor
        self.limits = limits
        self._pool = ThreadPool(minthreads=0, maxthreads=maxThreads, name=repr(self))
        self._local = threading.local()
        self._connections: set[Any] = set()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._shutdownTrigger: Any = None

    def load(self, cookieValue: str) -> Deferred[Any]:
        """
        Look the session key C{cookieValue} up.

        @return: a Deferred firing with the session's data, or C{None} for
            no (unexpired) row; failing with L{MalformedSession} for a key
            Django would not make or data that is not a valid session, and
            with L{SessionUnavailable} when the database fails.
        """
        if self._closed:
            return fail(SessionUnavailable("the store is closed"))
        if not _SESSION_KEY.fullmatch(cookieValue):
            return fail(MalformedSession("not a Django session key"))
        now = reactorClock(self._clock).seconds()
        self._start()
        return deferToThreadPool(
            self._reactorForPool(), self._pool, self._read, cookieValue, now
        )

    def close(self) -> None:
        """
        Stop the thread pool (waiting for lookups under way) and close the
        connections.  Later lookups fail with L{SessionUnavailable}.
        """
        if self._closed:
            return
        self._closed = True
        if self._started:
            self._pool.stop()
            if self._shutdownTrigger is not None:
                core: IReactorCore = self._reactorForPool()  # type: ignore[assignment]
                core.removeSystemEventTrigger(self._shutdownTrigger)
                self._shutdownTrigger = None
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            self._closeQuietly(connection)

    # In the reactor thread.

    def _reactorForPool(self) -> IReactorFromThreads:
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        return self._reactor

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self._pool.start()
            core: IReactorCore = self._reactorForPool()  # type: ignore[assignment]
            self._shutdownTrigger = core.addSystemEventTrigger(
                "during", "shutdown", self._shuttingDown
            )

    def _shuttingDown(self) -> None:
        self._shutdownTrigger = None  # firing: it is no longer registered
        self.close()

    # In a pool thread.

    def _read(self, sessionKey: str, now: float) -> Any:
        row = self._fetch(sessionKey)
        if row is None:
            return None
        sessionData, expireDate = row
        if _asDatetime(expireDate) <= datetime.fromtimestamp(now, timezone.utc):
            return None
        if isinstance(sessionData, bytes):
            sessionData = sessionData.decode("utf-8", "replace")
        if not isinstance(sessionData, str):
            raise MalformedSession("session_data is not text")
        data = django.loads(
            sessionData,
            self._secretKey,
            salt=self._salt,
            fallbackKeys=self._fallbackKeys,
            now=now,
            limits=self.limits,
        )
        if not isinstance(data, dict):
            raise MalformedSession("the session is not a mapping")
        return data

    def _fetch(self, sessionKey: str) -> Any:
        connection = getattr(self._local, "connection", None)
        try:
            if connection is None:
                connection = self._connect()
                self._local.connection = connection
                with self._lock:
                    self._connections.add(connection)
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql, self._params(sessionKey))
                row = cursor.fetchone()
            finally:
                cursor.close()
            # End the read transaction some drivers open, so the next lookup
            # sees sessions written since.
            connection.rollback()
        except Exception as error:
            self._local.connection = None
            if connection is not None:
                with self._lock:
                    self._connections.discard(connection)
                self._closeQuietly(connection)
            raise SessionUnavailable(f"the session database failed: {error!r}") from error
        return row

    @staticmethod
    def _closeQuietly(connection: Any) -> None:
        try:
            connection.close()
        except Exception:
            log.failure("Closing a session database connection failed")

    def __repr__(self) -> str:
        return f"<DjangoDatabaseStore {self._sql.split(' FROM ')[1].split()[0]}>"
