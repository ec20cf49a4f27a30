# -*- test-case-name: tests.test_interfaces -*-
"""
The three small interfaces everything in ratchet_tx is built from.

An L{IApplication} is told about connections (L{IConnection}) and answers with
commands (L{ICommand}).  Protocol layers such as L{ratchet_tx.websocket.WebSocket}
are applications themselves: they wrap an inner application (the decorator
pattern) and hand it connections decorated so that C{send} speaks their protocol.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface


class IConnection(Interface):
    """
    One client connection, as an application sees it.

    Protocol layers decorate connections: the object an application receives
    frames what it sends in the protocol the client speaks, while identity,
    addresses and per-connection state are shared by every layer's view.
    """

    id = Attribute("C{int}: unique within the process, stable for the connection's life.")
    remoteAddress = Attribute("The peer's L{twisted.internet.interfaces.IAddress}.")
    localAddress = Attribute("Our end's L{twisted.internet.interfaces.IAddress}.")
    state = Attribute(
        "A L{types.SimpleNamespace} where the application keeps its own "
        "per-connection data (shared by every layer's view of the connection)."
    )
    closed = Attribute("C{bool}: the connection is closing or gone; sends are dropped.")

    def send(message):
        """
        Send one message to the peer.

        A text C{str} or binary C{bytes}; how it is framed depends on the
        protocol layers between the application and the socket.  Sending on a
        closed connection does nothing.
        """

    def close(code=None, reason=""):
        """
        Close the connection gracefully: queued data is sent first.

        @param code: a close code, for layers that have them (WebSocket);
            C{None} picks the layer's normal closure.
        @param reason: a short human-readable reason, for layers that send one.
        """

    def abort():
        """
        Drop the connection at once, discarding anything queued.
        """

    def addCloseCallback(callback):
        """
        Call C{callback(conn)} once the connection is gone, after the
        application's C{onClose} (at once if it is gone already).  For
        layers and services that keep per-connection state elsewhere (a
        hub's subscriptions, say).
        """


class IApplication(Interface):
    """
    A socket application: four callbacks, each answering with a command.

    Every callback may return C{None}, an L{ICommand}, or a
    L{twisted.internet.defer.Deferred} or coroutine that resolves to either.
    An exception in any callback (or in the command it returns) is given to
    L{onError}; the server and every other connection carry on.
    """

    def onOpen(conn):
        """
        A client connected (and, for protocol layers, finished its handshake).

        @param conn: the L{IConnection}.
        """

    def onMessage(conn, message):
        """
        A message arrived from C{conn}.

        @param message: C{str} for a WebSocket text message, C{bytes} for a
            binary message or for raw bytes read from a plain TCP connection.
        """

    def onClose(conn):
        """
        C{conn} is gone.  Called exactly once per opened connection, however
        it ended: the peer closed it, it was aborted or timed out, the
        application closed it, or the server shut down.
        """

    def onError(conn, failure):
        """
        A callback for C{conn}, or a command it returned, raised an exception.

        @param failure: a L{twisted.python.failure.Failure} describing it.
        @return: like any callback: nothing, a command (typically
            L{ratchet_tx.commands.CloseConnection}), or a Deferred of one.  If
            C{onError} itself raises, the error is logged and C{conn} closed.
        """


class ICommand(Interface):
    """
    Something to do, returned by an application callback (the command pattern).
    """

    def execute():
        """
        Carry the command out.

        @return: C{None}, or a further result (a command, a Deferred or a
            coroutine) that is carried out in turn.
        """
