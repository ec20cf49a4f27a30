# -*- test-case-name: tests.redis.test_client -*-
"""
A Lua script for Redis, named by its SHA-1 so that it is sent once::

    INCR_IF_BELOW = Script('''
        local n = tonumber(redis.call("GET", KEYS[1]) or "0")
        if n < tonumber(ARGV[1]) then return redis.call("INCR", KEYS[1]) end
        return false
    ''')
    d = client.runScript(INCR_IF_BELOW, keys=["counter"], args=[10])

L{ratchet_tx.redis.client.RedisClient.runScript} sends C{EVALSHA} with the
SHA-1; a server that does not have the script yet (a new one, a restarted
one, or after C{SCRIPT FLUSH}) answers C{NOSCRIPT}, and the client sends
C{EVAL} with the source, which runs it and caches it for the next
C{EVALSHA}.  A script runs atomically: nothing else runs on the server
meanwhile.
"""

from __future__ import annotations

import hashlib


class Script:
    """
    A Lua script's source and its SHA-1.

    @ivar source: the source, as sent.
    @ivar sha1: its SHA-1 in lower-case hex, as Redis names it.
    """

    __slots__ = ("source", "sha1")

    def __init__(self, source: str | bytes) -> None:
        """
        @param source: the Lua source; C{str} is sent as UTF-8.
        """
        self.source = source.encode("utf-8") if isinstance(source, str) else bytes(source)
        self.sha1 = hashlib.sha1(self.source).hexdigest()

    def __repr__(self) -> str:
        return f"<Script {self.sha1[:12]}>"
