# -*- test-case-name: tests.session.test_spec -*-
"""
The session store of C{twistd ratchet --session SPEC}, from its spec::

    php+redis://127.0.0.1:6379/0                  PHPRedisStore
    php+redis://127.0.0.1:6379/0?prefix=app:&serializeHandler=php_serialize
    django-cache+redis://127.0.0.1:6379/1?allowPickle=yes
    flask-session+redis://127.0.0.1:6379/0?prefix=session:
    json+redis://127.0.0.1:6379/0?prefix=myapp:s:&cookieName=sid
    django-signed-cookie                          DjangoSignedCookieStore
    flask-cookie                                  FlaskCookieStore
    starlette-cookie                              StarletteCookieStore

The signed-cookie stores need the framework's secret key, which is never
taken from the command line (other users see it there, and shells keep
it): it comes from a file (C{--session-secret-file}) or the environment
variable L{SECRET_VARIABLE}.  L{parseSessionSpec} checks a spec without
connecting anywhere and returns what makes the store, so that the
command line is checked before anything starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ratchet_tx.redis.url import parseRedisURL
from ratchet_tx.session.cookiestores import (
    DjangoSignedCookieStore,
    FlaskCookieStore,
    StarletteCookieStore,
)
from ratchet_tx.session.interfaces import ISessionStore
from ratchet_tx.session.redisstores import (
    DjangoCacheStore,
    FlaskSessionRedisStore,
    PHPRedisStore,
    RedisJSONStore,
)

#: The environment variable that may hold the secret key.
SECRET_VARIABLE = "RATCHET_SESSION_SECRET"

#: Makes the store, given the reactor.
StoreMaker = Callable[[Any], ISessionStore]

_COOKIE_STORES: dict[str, Callable[..., ISessionStore]] = {
    "django-signed-cookie": DjangoSignedCookieStore,
    "flask-cookie": FlaskCookieStore,
    "starlette-cookie": StarletteCookieStore,
}

#: Redis stores: the class, and the query parameters each takes.
_REDIS_STORES: dict[str, tuple[Callable[..., ISessionStore], frozenset[str]]] = {
    "php": (PHPRedisStore, frozenset({"prefix", "serializeHandler"})),
    "django-cache": (DjangoCacheStore, frozenset({"allowPickle", "keyPrefix", "version"})),
    "flask-session": (FlaskSessionRedisStore, frozenset({"prefix"})),
    "json": (RedisJSONStore, frozenset({"prefix", "cookieName"})),
}

_YES = {"1", "yes", "true"}


class SessionSpecError(ValueError):
    """The spec, or the secret, is not usable; the message says why."""


def readSecret(secretFile: str | None, environ: Mapping[str, str]) -> str | None:
    """
    The secret key: the first line of C{secretFile}, else the environment's
    L{SECRET_VARIABLE}, else C{None}.

    @raise SessionSpecError: the file cannot be read or is empty.
    """
    if secretFile is not None:
        try:
            with open(secretFile, encoding="utf-8") as f:
                secret = f.readline().strip()
        except OSError as error:
            raise SessionSpecError(
                f"cannot read the session secret file {secretFile!r}: {error.strerror}"
            ) from None
        except UnicodeDecodeError:
            raise SessionSpecError(
                f"the session secret file {secretFile!r} is not UTF-8 text"
            ) from None
        if not secret:
            raise SessionSpecError(f"the session secret file {secretFile!r} is empty")
        return secret
    return environ.get(SECRET_VARIABLE) or None


def parseSessionSpec(spec: str, secret: str | None) -> StoreMaker:
    """
    Check C{spec} (see the module docstring) and say how to make its store.

    @param secret: the secret key, for the signed-cookie stores.
    @return: a callable taking the reactor and returning the store.
    @raise SessionSpecError: the spec is unknown or malformed, or a
        secret is missing.
    """
    if spec in _COOKIE_STORES:
        if secret is None:
            raise SessionSpecError(
                f"--session {spec} needs the secret key: give --session-secret-file, "
                f"or set {SECRET_VARIABLE}"
            )
        store = _COOKIE_STORES[spec]
        return lambda reactor: store(secret)
    scheme, plus, rest = spec.partition("+")
    if not plus or scheme not in _REDIS_STORES or not rest.startswith(("redis:", "unix:")):
        known = ", ".join([*(f"{name}+redis://..." for name in _REDIS_STORES), *_COOKIE_STORES])
        raise SessionSpecError(f"--session: unknown store {spec!r} (known: {known})")
    storeClass, allowed = _REDIS_STORES[scheme]
    parts = urlsplit(rest)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options: dict[str, Any] = {}
    remaining = []
    for name, value in query:
        if name in allowed:
            options[name] = value
        else:
            remaining.append((name, value))
    if scheme == "django-cache":
        options["allowPickle"] = options.get("allowPickle", "").lower() in _YES
        if not options["allowPickle"]:
            raise SessionSpecError(
                "--session django-cache+redis: Django's Redis cache pickles sessions; "
                "add ?allowPickle=yes to read them (restricted to plain data)"
            )
        if "version" in options:
            options["version"] = _integer("version", options["version"])
    if scheme == "json" and "prefix" not in options:
        raise SessionSpecError("--session json+redis: give the key prefix, as ?prefix=myapp:")
    # What is left of the query is the Redis URL's own (unix://...?db=N).
    rest = "&".join(f"{name}={value}" for name, value in remaining)
    url = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{rest}" if rest else "")
    try:
        address = parseRedisURL(url)
    except ValueError as error:
        raise SessionSpecError(f"--session: {error}") from None
    try:
        if scheme == "php" and "serializeHandler" in options:
            from ratchet_tx.session.codecs.phpsession import SerializeHandler

            SerializeHandler(options["serializeHandler"])
    except ValueError:
        raise SessionSpecError(
            f"--session: unknown serializeHandler {options['serializeHandler']!r} "
            "(php, php_binary or php_serialize)"
        ) from None
    return partial(_redisStore, storeClass, address, options)


def _integer(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SessionSpecError(f"--session: {name} takes an integer, not {value!r}") from None


def _redisStore(
    storeClass: Callable[..., ISessionStore], address: Any, options: dict[str, Any], reactor: Any
) -> ISessionStore:
    return storeClass(address, reactor=reactor, **options)
