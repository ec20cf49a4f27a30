# -*- test-case-name: tests.redis.test_url -*-
"""
Where a Redis server is, from a URL::

    redis://[[user]:password@]host[:port][/db][?db=N]
    unix://[[user]:password@]/path/to/redis.sock[?db=N]

The host may be a name, an IPv4 address or an IPv6 address in brackets
(C{redis://[::1]:6380/2}); the port defaults to 6379 and the database to 0.
User and password are percent-decoded (a C{@} or C{:} in a password is
written C{%40}, C{%3A}); a user without a password is refused, since there is
nothing to authenticate it with.  C{rediss://} (TLS) is not supported.

The L{RedisAddress} never shows its password: its C{str} and C{repr} put
C{***} in its place, so it can go into a log line or an exception.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

#: The port Redis listens on unless told otherwise.
DEFAULT_PORT = 6379

#: The highest database number any Redis accepts (its C{databases} setting
#: defaults to 16, numbered 0 to 15; more may be configured).
_MAX_DB = 2**31 - 1

_SCHEMES = ("redis", "unix")


@dataclass(frozen=True)
class RedisAddress:
    """
    A Redis server and how to log in to it.

    Exactly one of C{host} (with C{port}) and C{path} is set.

    @ivar host: the host name or IP address (IPv6 without brackets), or
        C{None} for a UNIX socket.
    @ivar port: the TCP port, or C{None} for a UNIX socket.
    @ivar path: the UNIX socket's path, or C{None} for TCP.
    @ivar db: the database to C{SELECT}.
    @ivar username: the ACL user to C{AUTH} as (Redis >= 6), or C{None}.
    @ivar password: the password to C{AUTH} with, or C{None}; never shown.
    """

    host: str | None = None
    port: int | None = None
    path: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        userinfo = ""
        if self.password is not None:
            user = quote(self.username, safe="") if self.username else ""
            userinfo = f"{user}:***@"
        if self.path is not None:
            query = f"?db={self.db}" if self.db else ""
            return f"unix://{userinfo}{self.path}{query}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"redis://{userinfo}{host}:{self.port}/{self.db}"

    def __repr__(self) -> str:
        return f"<RedisAddress {self}>"


def _fail(problem: str) -> ValueError:
    # The URL may hold a password: never quote it back.
    return ValueError(f"invalid Redis URL ({problem}); expected {_FORMS}")


_FORMS = "redis://[[user]:password@]host[:port][/db] or unix:///path/to/socket[?db=N]"


def _database(text: str, where: str) -> int:
    if not text.isdigit() or int(text) > _MAX_DB:
        raise _fail(f"the database {where} must be a number from 0")
    return int(text)


def parseRedisURL(url: str) -> RedisAddress:
    """
    Parse a C{redis://} or C{unix://} URL (see the module docstring).

    @raise ValueError: it is not one, or a part of it is invalid; the
        message says which part, and never contains the password.
    """
    if not isinstance(url, str):
        raise TypeError(f"a Redis URL is a str, not {type(url).__name__}")
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise _fail("no scheme")
    if scheme == "rediss":
        raise _fail("rediss:// (TLS) is not supported")
    if scheme not in _SCHEMES:
        raise _fail(f"unknown scheme {scheme[:20]!r}")
    try:
        parts = urlsplit(url)
    except ValueError as e:
        raise _fail(str(e).split(":")[0]) from None
    if parts.fragment:
        raise _fail("a fragment (#...)")

    userinfo, at, hostport = parts.netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        if not colon:
            raise _fail("a user without a password; write :password@ for a password alone")
        username = unquote(user) or None
        password = unquote(secret)
        if not password:
            raise _fail("an empty password")

    db = 0
    dbFromQuery = None
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name != "db":
            raise _fail(f"unknown option {name[:20]!r}; the only one is db")
        if dbFromQuery is not None:
            raise _fail("db given twice")
        dbFromQuery = _database(value, "in ?db=")

    if scheme == "unix":
        if hostport:
            raise _fail("a host in a unix:// URL; write unix:///path (three slashes)")
        if not parts.path.startswith("/") or parts.path == "/":
            raise _fail("no socket path")
        if dbFromQuery is not None:
            db = dbFromQuery
        return RedisAddress(path=unquote(parts.path), db=db, username=username, password=password)

    host, port = _hostAndPort(hostport)
    path = parts.path.strip("/")
    if path:
        db = _database(path, "in the path")
    if dbFromQuery is not None:
        if path and dbFromQuery != db:
            raise _fail("db given twice")
        db = dbFromQuery
    return RedisAddress(host=host, port=port, db=db, username=username, password=password)


def _hostAndPort(hostport: str) -> tuple[str, int]:
    """Split C{host[:port]} or C{[v6]:port}; the host defaults to localhost."""
    if hostport.startswith("["):
        literal, bracket, rest = hostport[1:].partition("]")
        if not bracket:
            raise _fail("an unclosed [ in the host")
        try:
            host = str(ipaddress.IPv6Address(literal))
        except ValueError:
            raise _fail("not an IPv6 address in [...]") from None
        if rest and not rest.startswith(":"):
            raise _fail("something after the ] of the host")
        portText = rest[1:] if rest else ""
    else:
        host, _, portText = hostport.partition(":")
        if ":" in portText:
            raise _fail("an IPv6 address must be in brackets: [::1]")
        host = host or "localhost"
        if any(c in host for c in " /\\[]%") or not host.isprintable():
            raise _fail("an invalid host name")
    if not portText:
        return host, DEFAULT_PORT
    if not portText.isdigit() or not 0 < int(portText) < 65536:
        raise _fail("the port must be a number from 1 to 65535")
    return host, int(portText)
