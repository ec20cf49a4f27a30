# -*- test-case-name: tests.test_flashpolicy -*-
"""
A Flash socket policy server: answers C{<policy-file-request/>} on its own
port (843, where Flash Player asks first) and closes::

    from twisted.internet.endpoints import serverFromString
    policy = FlashPolicy(ports=(8080,))
    serverFromString(reactor, "tcp:843").listen(FlashPolicyFactory(policy))

and on the WebSocket port itself (where Flash Player asks next), through
L{PolicySniff}::

    Server(WebSocket(Chat(), flashPolicy=policy))

The pure parts (recognising the request, rendering the document) are in
L{ratchet_tx.websocket.codecs.flashpolicy}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime, ITCPTransport
from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from ratchet_tx.websocket.codecs.flashpolicy import (
    POLICY_REQUEST,
    Detection,
    FlashPolicy,
    detect,
)

if TYPE_CHECKING:
    from ratchet_tx.websocket.connection import WebSocketConnection

#: Seconds a connection has to send its policy request before it is
#: dropped.
DEFAULT_POLICY_TIMEOUT = 10.0

_log = Logger()


class FlashPolicyProtocol(Protocol):
    """
    One policy connection: read at most the 23 bytes of the request, answer
    it and close; drop anything else, and anyone too slow.
    """

    def __init__(self, server: FlashPolicyFactory) -> None:
        """
        @param server: the factory whose policy, timeout and reactor apply.
        """
        self._server = server
        self._received = b""
        self._done = False
        self._timer: IDelayedCall | None = None

    @property
    def _transport(self) -> ITCPTransport:
        return cast(ITCPTransport, self.transport)

    def connectionMade(self) -> None:
        self._timer = self._server.reactor.callLater(self._server.timeout, self._timedOut)

    def dataReceived(self, data: bytes) -> None:
        if self._done:
            return
        # Bounded: nothing past the request's length is kept.
        self._received += data[: len(POLICY_REQUEST) - len(self._received)]
        found = detect(self._received)
        if found is Detection.INCOMPLETE:
            return
        self._finish()
        if found is Detection.REQUEST:
            self._transport.write(self._server.answer)
            self._transport.loseConnection()
        else:
            _log.info(
                "Not a Flash policy request from {peer}: {start!r}",
                peer=self._transport.getPeer(),
                start=self._received,
            )
            self._transport.abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._finish()

    def _timedOut(self) -> None:
        self._timer = None
        self._finish()
        _log.info(
            "No Flash policy request from {peer} in {timeout} s",
            peer=self._transport.getPeer(),
            timeout=self._server.timeout,
        )
        self._transport.abortConnection()

    def _finish(self) -> None:
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class FlashPolicyFactory(ServerFactory):
    """
    Serve one L{FlashPolicy} to every connection.

    @ivar policy: the policy served.
    @ivar answer: its rendered bytes, rendered once.
    @ivar timeout: seconds a connection has to send its request.
    @ivar reactor: the reactor timing connections out.
    """

    noisy = False

    def __init__(
        self,
        policy: FlashPolicy,
        *,
        timeout: float = DEFAULT_POLICY_TIMEOUT,
        reactor: IReactorTime | None = None,
    ) -> None:
        """
        @param policy: the policy to serve.
        @param timeout: see L{timeout}.
        @param reactor: see L{reactor}; the global one if C{None}.
        """
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if reactor is None:
            from twisted.internet import reactor as globalReactor

            reactor = cast(IReactorTime, globalReactor)
        self.policy = policy
        self.answer = policy.render()
        self.timeout = timeout
        self.reactor = reactor

    def buildProtocol(self, addr: IAddress | None) -> FlashPolicyProtocol:
        return FlashPolicyProtocol(self)


class PolicySniff:
    """
    The first bytes of a connection to a WebSocket port that also answers
    Flash policy requests: a policy request is answered there and the
    connection closed; anything else is handed to the WebSocket connection
    as it came.

    No handshake is delayed: an HTTP request is told from a policy request
    by its first byte (L{detect}), so the first read goes on to the
    WebSocket connection at once, and from then on the layer reads into it
    directly (L{ratchet_tx.websocket.WebSocket.sniffed}).  Only bytes that
    may yet become the request wait, at most 22 of them, within the
    connection's handshake timeout (the WebSocket connection's, running
    from the start).
    """

    __slots__ = ("_answer", "_answered", "_handOver", "_received", "_ws")

    def __init__(
        self,
        ws: WebSocketConnection,
        answer: bytes,
        handOver: Callable[[WebSocketConnection], object],
    ) -> None:
        """
        @param ws: the connection's WebSocket side.
        @param answer: the rendered policy (L{FlashPolicy.render}).
        @param handOver: called with C{ws} once the connection is known not
            to be a policy request.
        """
        self._ws = ws
        self._answer = answer
        self._handOver = handOver
        self._received = b""
        self._answered = False

    def dataReceived(self, data: bytes) -> None:
        """Bytes from the peer, before it was told apart."""
        if self._answered:
            return
        received = self._received + data
        found = detect(received)
        if found is Detection.INCOMPLETE:
            self._received = received
        elif found is Detection.REQUEST:
            self._answered = True
            self._received = b""
            ws = self._ws
            _log.info("Flash policy request from {peer}", peer=ws.remoteAddress)
            ws.transportConnection.write(self._answer)
            ws.wrapped.close()
        else:
            self._received = b""
            self._handOver(self._ws)
            self._ws.dataReceived(received)

    def connectionLost(self) -> None:
        """The connection is gone."""
        self._ws.connectionLost()
