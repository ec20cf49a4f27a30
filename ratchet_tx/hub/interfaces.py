# -*- test-case-name: tests.hub.test_local -*-
"""
What a hub promises: channels that connections subscribe to and messages are
published on, within one process (L{ratchet_tx.hub.LocalHub}) or across all
the processes that share a Redis (L{ratchet_tx.hub.RedisHub}).
"""

from __future__ import annotations

from zope.interface import Attribute, Interface


class IHub(Interface):
    """
    Channels of connections, with presence and a bounded history.

    Every subscriber of a channel, in every process of the hub, receives
    each message published on it once; the messages of one publisher arrive
    in the order they were published.  A message is framed once per process
    and protocol version, whatever the number of receivers (the bulk path of
    L{ratchet_tx.commands.Broadcast}); the slow-consumer policy applies to
    each receiver as for any send.
    """

    nodeId = Attribute(
        "C{str}: this process's name in the hub, unique among the processes that share it."
    )
    policy = Attribute("The L{ratchet_tx.hub.HistoryPolicy} of every channel.")

    def memberId(conn):
        """
        The id of C{conn} in the hub, unique across its processes:
        C{"<nodeId>.<conn.id>"}.
        """

    def subscribe(conn, channel, since=None, info=None, render=None, onError=None):
        """
        Add C{conn} to C{channel}, until L{unsubscribe} or until it closes.

        Subscribing again replaces C{info} and C{render}.

        @param since: an L{ratchet_tx.hub.Offset} (or its text): first send
            C{conn} every message published after it, then the live ones,
            with no gap and no duplicate.
        @param info: what L{presence} lists for C{conn} (JSON-able).
        @param render: a function from a L{ratchet_tx.hub.Delivery} to what
            C{conn} is sent (C{str} or C{bytes}); by default the message as
            published.  Called once per message for all the receivers that
            share it, so a client can be told each message's offset.
        @param onError: told C{(conn, failure)} when a message cannot be sent
            to C{conn} (a Hixie peer and a binary message, say); logged when
            C{None}.  L{ratchet_tx.hub.Subscribe} passes the subscribing
            application's C{onError}.
        @return: a Deferred that fires with C{None} once C{conn} is live in
            the channel, or fails with L{ratchet_tx.hub.HistoryLost} (after
            going live) when what it missed cannot be replayed.
        """

    def unsubscribe(conn, channel):
        """
        Take C{conn} out of C{channel} (nothing if it is not in it).

        @return: a Deferred that fires with C{None}.
        """

    def publish(channel, message, exclude=None):
        """
        Send C{message} (C{str} or C{bytes}) to every subscriber of
        C{channel}, and keep it in the channel's history.

        @param exclude: a connection or member id, or a collection of them,
            not to send it to (typically its sender).
        @return: a Deferred that fires with the message's
            L{ratchet_tx.hub.Offset}, or fails when it could not be
            published (L{ratchet_tx.redis.RedisUnavailable}).
        """

    def presence(channel):
        """
        Who is in C{channel}, in every process of the hub.

        @return: a Deferred of a list of L{ratchet_tx.hub.Member}, in the
            order they joined.
        """

    def close():
        """
        Leave every channel and release what the hub holds (connections to
        Redis, timers).

        @return: a Deferred that fires once it is done.
        """
