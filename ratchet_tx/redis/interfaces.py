# -*- test-case-name: tests.redis.test_interfaces -*-
"""
What the Redis client and subscriber promise, for the code that uses them
(sessions, the hub) and for the fakes that stand in for them in tests.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface


class IRedisConnection(Interface):
    """
    A connection to Redis that keeps itself up (the part shared by
    L{IRedisClient} and L{IRedisSubscriber}).
    """

    address = Attribute("The L{ratchet_tx.redis.url.RedisAddress} it connects to.")
    connected = Attribute("C{bool}: the connection is up and ready.")

    def whenConnected(timeout=None):
        """
        Wait until the connection is up (at once if it is).

        @param timeout: how long to wait, in seconds; C{None} for the
            object's connect timeout.
        @return: a Deferred that fires with this object, or fails with
            L{ratchet_tx.redis.errors.RedisUnavailable} when C{timeout}
            passes first or the object is closed.
        """

    def close():
        """
        Stop reconnecting and close the connection once the commands in
        flight are answered (or timed out).

        @return: a Deferred that fires once the connection is closed.
        """


class IRedisClient(IRedisConnection):
    """
    Commands to Redis over one pipelined connection.
    """

    def execute(*args):
        """
        Send one command now.

        @param args: the command's name and arguments (C{bytes}, C{str} as
            UTF-8, C{int}, C{float}).
        @return: a Deferred of the reply (C{bytes}, C{str}, C{int}, C{None}
            or a C{list} of them), failing with
            L{ratchet_tx.redis.errors.RedisError} for an error reply and
            L{ratchet_tx.redis.errors.RedisUnavailable} (or its subclass
            L{ratchet_tx.redis.errors.RedisTimeout}) when no reply can come.
        """

    def runScript(script, keys=(), args=()):
        """
        Run a L{ratchet_tx.redis.script.Script} atomically (C{EVALSHA}, and
        C{EVAL} when the server does not have it yet).

        @return: a Deferred of what the script returns, as L{execute}'s.
        """


class IRedisSubscriber(IRedisConnection):
    """
    Pub/sub over a connection of its own, resubscribed after each reconnect.
    """

    channels = Attribute("The set of channels (C{bytes}) it is subscribed to.")
    patterns = Attribute("The set of patterns (C{bytes}) it is subscribed to.")

    def subscribe(*channels):
        """
        Subscribe to C{channels}, and keep them across reconnections.

        @return: a Deferred that fires once Redis confirmed them, or fails
            with L{ratchet_tx.redis.errors.RedisUnavailable} when there is
            no connection (they are subscribed once it is back).
        """

    def unsubscribe(*channels):
        """
        Unsubscribe from C{channels}.

        @return: a Deferred that fires once Redis confirmed it (at once
            without a connection).
        """

    def psubscribe(*patterns):
        """Subscribe to the channels matching C{patterns}; like L{subscribe}."""

    def punsubscribe(*patterns):
        """Undo L{psubscribe}; like L{unsubscribe}."""
