"""
The real web frameworks, writing real sessions for the tests to read:
Django (configured once per process, in-process), Flask and Starlette test
clients, and PHP's own session module (Debian's C{php-cli}) run as a process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from tests.support.system import requirePackage

#: The secret of every framework in these tests (and an older one, rotated out).
SECRET = "ratchet_tx-test-secret-0123456789-abcdefghij"
OLD_SECRET = "an-older-secret-that-was-rotated-out"

_djangoDatabase: str | None = None


def configureDjango() -> str:
    """
    Configure Django in this process (once), with the sessions app and an
    SQLite database whose C{django_session} table Django's own migration
    made.

    @return: the database's path.
    """
    global _djangoDatabase
    if _djangoDatabase is None:
        import django
        from django.conf import settings
        from django.core.management import call_command

        path = os.path.join(tempfile.mkdtemp(prefix="ratchet_tx-django-"), "db.sqlite3")
        settings.configure(
            SECRET_KEY=SECRET,
            INSTALLED_APPS=["django.contrib.sessions"],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": path}},
            USE_TZ=True,
        )
        django.setup()
        call_command("migrate", "sessions", verbosity=0)
        _djangoDatabase = path
    return _djangoDatabase


def djangoSession(backend: str, data: Mapping[str, Any], **settings: Any) -> str:
    """
    Save C{data} with Django's own C{SessionStore} of C{backend}
    (C{"signed_cookies"} or C{"db"}), under C{settings} overrides.

    @return: the value Django puts in the C{sessionid} cookie.
    """
    configureDjango()
    from importlib import import_module

    from django.test.utils import override_settings

    with override_settings(**settings):
        store = import_module(f"django.contrib.sessions.backends.{backend}").SessionStore()
        store.update(data)
        store.save()
        return str(store.session_key)


def flaskCookie(data: Mapping[str, Any], *, secret: str = SECRET,
                permanent: bool = False, **config: Any) -> str:
    """
    Log in to a small Flask app with its test client: the view stores
    C{data} in C{flask.session}.

    @return: the C{session} cookie the response set.
    """
    from flask import Flask, session

    app = Flask("ratchet_tx_test")
    app.secret_key = secret
    app.config.update(config)

    @app.post("/login")
    def login() -> str:
        if permanent:
            session.permanent = True  # stored as "_permanent": True
        session.update(data)
        return "logged in"

    return _flaskLogin(app)


def _flaskLogin(app: Any) -> str:
    """POST to the Flask app's C{/login}; the session cookie it set."""
    client = app.test_client()
    response = client.post("/login")
    assert response.status_code == 200, response
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None, "Flask set no session cookie"
    return str(cookie.value)


def starletteCookie(data: Mapping[str, Any], *, secret: str = SECRET, **options: Any) -> str:
    """
    Log in to a small Starlette app with C{SessionMiddleware} through its
    C{TestClient}: the endpoint stores C{data} in C{request.session}.

    @return: the C{session} cookie the response set.
    """
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    async def login(request: Any) -> PlainTextResponse:
        request.session.update(data)
        return PlainTextResponse("logged in")

    app = Starlette(
        routes=[Route("/login", login, methods=["POST"])],
        middleware=[Middleware(SessionMiddleware, secret_key=secret, **options)],
    )
    with TestClient(app) as client:
        response = client.post("/login")
        assert response.status_code == 200, response
        return str(response.cookies[options.get("session_cookie", "session")])


PHP_INSTALL = "apt-get install php-cli"
PHP_DIR = os.path.join(os.path.dirname(__file__), "php")
#: E_ALL without E_DEPRECATED: C{Serializable} alone is deprecated, and still written.
_ALL_BUT_DEPRECATED = 32767 & ~8192


def requirePHP(testCase: SynchronousTestCase) -> str:
    """The C{php} executable; the test fails with the install line without one."""
    php = shutil.which("php")
    if php is None:
        testCase.fail(f"PHP is needed for this test: {PHP_INSTALL}")
    return php


def runPHP(testCase: SynchronousTestCase, script: str, *args: str, stdin: bytes = b"") -> bytes:
    """
    Run C{tests/session/php/SCRIPT} with C{args}; its standard output.
    The test fails if PHP writes anything to standard error or exits badly.
    """
    php = requirePHP(testCase)
    sessions = tempfile.mkdtemp(prefix="ratchet_tx-php-")
    testCase.addCleanup(shutil.rmtree, sessions, True)
    result = subprocess.run(
        [php, "-n", "-d", f"session.save_path={sessions}", "-d", "session.use_cookies=0",
         "-d", "display_errors=stderr", "-d", f"error_reporting={_ALL_BUT_DEPRECATED}",
         os.path.join(PHP_DIR, script), *args],
        input=stdin,
        capture_output=True,
        timeout=60,
    )
    if result.returncode != 0 or result.stderr:
        testCase.fail(f"php {script} failed ({result.returncode}): {result.stderr.decode()!r}")
    return result.stdout


#: The extensions phpredis needs (Debian's php-redis is built with igbinary).
_PHPREDIS = ("-d", "extension=igbinary", "-d", "extension=redis")


def phpRedisSession(testCase: SynchronousTestCase, redisPort: int, action: str,
                    handler: str, argument: str) -> str:
    """
    Run PHP's session module with the phpredis save handler against the
    Redis on C{redisPort}: C{action} C{"login"} stores a user named
    C{argument} under C{handler} and returns the new session id;
    C{"logout"} destroys the session whose id is C{argument}.
    """
    requirePackage("php-redis", "the PHP session tests")
    php = requirePHP(testCase)
    result = subprocess.run(
        [php, "-n", *_PHPREDIS, "-d", "session.save_handler=redis",
         "-d", f'session.save_path="tcp://127.0.0.1:{redisPort}?database=0"',
         "-d", "session.use_cookies=0", "-d", "display_errors=stderr",
         "-d", f"error_reporting={_ALL_BUT_DEPRECATED}",
         os.path.join(PHP_DIR, "redis_session.php"), action, handler, argument],
        capture_output=True,
        timeout=60,
    )
    if result.returncode != 0 or result.stderr:
        testCase.fail(f"php redis_session.php failed ({result.returncode}): {result.stderr!r}")
    return result.stdout.decode("ascii")


def djangoCacheSession(redisURL: str, data: Mapping[str, Any]) -> str:
    """
    Save C{data} with Django's C{cache} session backend on Django's own
    Redis cache at C{redisURL}.

    @return: the value Django puts in the C{sessionid} cookie.
    """
    return djangoSession(
        "cache",
        data,
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                            "LOCATION": redisURL}},
    )


def flaskSessionRedisCookie(redisPort: int, data: Mapping[str, Any], **config: Any) -> str:
    """
    Log in to a small Flask app whose sessions Flask-Session keeps in the
    Redis on C{redisPort}: the view stores C{data} in C{flask.session}.

    @return: the C{session} cookie the response set (the session id).
    """
    import redis
    from flask import Flask, session
    from flask_session import Session

    app = Flask("ratchet_tx_test_flask_session")
    app.secret_key = SECRET
    connection = redis.Redis(host="127.0.0.1", port=redisPort)
    app.config.update(SESSION_TYPE="redis", SESSION_REDIS=connection, **config)
    Session(app)

    @app.post("/login")
    def login() -> str:
        session.update(data)
        return "logged in"

    try:
        return _flaskLogin(app)
    finally:
        connection.close()


def phpSerializeAll(testCase: SynchronousTestCase, values: list[Any]) -> list[bytes]:
    """C{serialize(json_decode(v, true))} by real PHP, for each JSON-able value."""
    out = runPHP(testCase, "serialize_json.php", stdin=json.dumps(values).encode())
    return [bytes.fromhex(line) for line in out.decode().split()]
