# -*- test-case-name: tests.client.test_cli -*-
"""
C{python -m ratchet_tx.client URL}: talk to a WebSocket server from a
terminal or a pipe::

    python -m ratchet_tx.client ws://127.0.0.1:8080/echo --version hixie-76
    printf 'one\\ntwo\\n' | python -m ratchet_tx.client ws://127.0.0.1:8080/echo

Every line read from standard input is sent as a text message; every
message received is printed on standard output, one a line (a binary one
as its Python C{bytes} literal).  The end of the input (Ctrl-D on a
terminal, the end of a pipe) closes the connection with 1000.

When the program ends: once the input ended I{and the answers arrived}.
"Arrived" means: everything the server sent before it read the end of our
input.  At the end of the input the program sends a ping (RFC 6455, HyBi)
and waits for its pong; a server answers a ping when it reads it, after it
handled the messages before it (ratchet_tx's server sends a message's
answers before the pong of a ping that followed it, see
L{ratchet_tx.websocket.protocol}), so by then the answers to every line are
in.  Only then does it close with 1000 and wait for the server's close
(bounded by the C{closeTimeout}).  Closing at once would not do: a
connection that sent its close drops the messages that still arrive.
Hixie-76 and Hixie-75 have no ping: there the program waits until the
server has been quiet for L{QUIET_PERIOD} seconds (at most
L{MAX_QUIET_WAIT}), which is a heuristic.  An answer a server sends later
than that (after a slow database, say) is not waited for.  The server may
also close first: the program then ends at once.

The exit status is 0 after a closing handshake with 1000 or 1001, 1 when
the connection could not be opened (a refused handshake, a refused
connection, a timeout: one line on standard error) or ended otherwise
(its close code on standard error), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from ratchet_tx.client.connect import connect, isPlainURL, parseVersion
from ratchet_tx.interfaces import IApplication, IConnection
from ratchet_tx.websocket.codecs.closecodes import CloseCode
from ratchet_tx.websocket.codecs.handshake import WebSocketVersion

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

PROGRAM = "python -m ratchet_tx.client"

#: Hixie: the end of the input closes once the server was quiet this long.
QUIET_PERIOD = 0.3
#: Hixie: the longest wait for the server to be quiet.
MAX_QUIET_WAIT = 5.0
#: The payload of the ping that follows the input.
END_OF_INPUT = b"end of input"

#: The close codes after which the program ends well.
NORMAL_ENDS = frozenset({CloseCode.NORMAL, CloseCode.GOING_AWAY})


def parseHeader(text: str) -> tuple[str, str]:
    """C{"Name: value"} as C{("Name", "value")}."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or name != name.strip():
        raise argparse.ArgumentTypeError(f"a header is 'Name: value', not {text!r}")
    return name, value.strip()


def parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    names = ", ".join(v.value for v in WebSocketVersion)
    p = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Send the lines of standard input as text messages to a "
        "WebSocket server and print the messages it sends; the end of the "
        "input closes the connection.",
    )
    p.add_argument("url", help="ws://, wss:// or tcp://host:port")
    p.add_argument(
        "--version",
        default=WebSocketVersion.RFC6455.value,
        help=f"the WebSocket version to speak: {names} (default: %(default)s)",
    )
    p.add_argument(
        "--header",
        action="append",
        default=[],
        type=parseHeader,
        metavar="'NAME: VALUE'",
        help="a request header to send (repeatable)",
    )
    p.add_argument("--origin", help="the Origin to claim (browsers send one)")
    p.add_argument(
        "--subprotocol",
        action="append",
        default=[],
        metavar="NAME",
        help="a sub-protocol to offer (repeatable, in order of preference)",
    )
    return p


@implementer(IApplication)
class Console:
    """
    The program's application: prints what arrives, and tells C{ended}
    how the connection ended (its close code).
    """

    def __init__(self, out: TextIO, clock: IReactorTime) -> None:
        self.out = out
        self.clock = clock
        self.ended: Deferred[int] = Deferred()
        self.lastHeard = clock.seconds()

    def onOpen(self, conn: IConnection) -> None:
        pass

    def onMessage(self, conn: IConnection, message: str | bytes) -> None:
        self.lastHeard = self.clock.seconds()
        self.out.write(message if isinstance(message, str) else repr(message))
        self.out.write("\n")
        self.out.flush()

    def onClose(self, conn: IConnection) -> None:
        code = getattr(conn, "closeCode", CloseCode.NORMAL)
        self.ended.callback(code)

    def onError(self, conn: IConnection, failure: Failure) -> None:
        sys.stderr.write(f"{PROGRAM}: {failure.getErrorMessage()}\n")
        conn.abort()


class LineSender(Protocol):
    """
    Standard input: every line (without its end, C{\\n} or C{\\r\\n}) is
    sent as a message on C{conn}; its end closes C{conn} with 1000 once the
    answers arrived (see the module docstring).  A last line without an end
    is sent too.
    """

    def __init__(self, conn: IConnection, console: Console, plain: bool) -> None:
        self.conn = conn
        self.console = console
        self.plain = plain
        self._partial = b""

    def dataReceived(self, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self._send(line.removesuffix(b"\r"))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._partial:
            self._send(self._partial)
            self._partial = b""
        roundTrip = getattr(self.conn, "roundTrip", None)
        answered = roundTrip(END_OF_INPUT) if roundTrip is not None else None
        if answered is None:
            self._closeWhenQuiet(self.console.clock.seconds() + MAX_QUIET_WAIT)
        else:
            answered.addBoth(lambda _: self.conn.close(CloseCode.NORMAL))

    def _closeWhenQuiet(self, deadline: float) -> None:
        if self.conn.closed:
            return
        now = self.console.clock.seconds()
        quietFor = now - self.console.lastHeard
        if quietFor >= QUIET_PERIOD or now >= deadline:
            self.conn.close(CloseCode.NORMAL)
        else:
            wait = min(QUIET_PERIOD - quietFor, deadline - now)
            self.console.clock.callLater(wait, self._closeWhenQuiet, deadline)

    def _send(self, line: bytes) -> None:
        if self.plain:
            self.conn.send(line + b"\n")
        else:
            self.conn.send(line.decode("utf-8", "replace"))


async def run(reactor: Any, arguments: argparse.Namespace) -> int:
    """Connect, relay until the connection ends; the exit status."""
    from twisted.internet.stdio import StandardIO

    console = Console(sys.stdout, reactor)
    try:
        conn = await connect(
            reactor,
            arguments.url,
            console,
            version=arguments.version,
            subprotocols=arguments.subprotocol,
            headers=arguments.header,
            origin=arguments.origin,
        )
    except Exception as e:
        sys.stderr.write(f"{PROGRAM}: could not connect to {arguments.url}: {_oneLine(e)}\n")
        return 1
    StandardIO(LineSender(conn, console, isPlainURL(arguments.url)), reactor=reactor)
    code = await console.ended
    if code in NORMAL_ENDS:
        return 0
    reason = getattr(conn, "closeReason", "")
    sys.stderr.write(f"{PROGRAM}: the connection ended with {code} {reason}".rstrip() + "\n")
    return 1


def _oneLine(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> None:
    """Run the program (exits)."""
    arguments = parser().parse_args(argv)
    try:
        if not isPlainURL(arguments.url):
            parseVersion(arguments.version)
    except ValueError as e:
        parser().error(str(e))
    from twisted.internet.task import react

    async def program(reactor: Any) -> None:
        status = await run(reactor, arguments)
        if status:
            raise SystemExit(status)  # react exits with its code

    react(lambda reactor: Deferred.fromCoroutine(program(reactor)))


if __name__ == "__main__":  # pragma: no cover
    main()
