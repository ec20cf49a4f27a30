"""
Tests for L{ratchet_tx.tap} (the options of C{twistd ratchet} and the service
they build) and L{ratchet_tx.service} (closing clients when it stops).

The protocol is always given explicitly (C{--protocol raw}): the default will
become C{websocket}, and these tests must not depend on it.
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import textwrap
from pathlib import Path

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.internet.defer import fail, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from ratchet_tx.examples.chat import Chat
from ratchet_tx.examples.echo import Echo
from ratchet_tx.interfaces import IApplication
from ratchet_tx.server import Server
from ratchet_tx.service import ServerService
from ratchet_tx.tap import PROTOCOLS, Options, makeService
from tests.support import apps
from tests.support.apps import RecordingApplication, StubbornTransport, connectTo

RAW = ("--protocol", "raw")


def parse(*args: str) -> Options:
    options = Options()
    options.parseOptions(list(args))
    return options


class UsageErrorAssertions(SynchronousTestCase):
    def assertUsageError(self, args: tuple[str, ...], *fragments: str) -> str:
        """
        Parsing C{args} fails with a one-line usage error mentioning every
        fragment; returns the message.
        """
        error = self.assertRaises(usage.UsageError, parse, *args)
        message = str(error)
        self.assertEqual(len(message.splitlines()), 1, f"not one line: {message!r}")
        for fragment in fragments:
            self.assertIn(fragment, message)
        return message


class ListenOptionTests(UsageErrorAssertions):
    def test_defaultListen(self) -> None:
        self.assertEqual(parse(*RAW)["listen"], ["tcp:8080"])

    def test_listenIsRepeatableAndKeepsOrder(self) -> None:
        options = parse(
            *RAW, "--listen", "tcp:9000", "--listen", "unix:/tmp/chat.sock", "--listen=tcp:9001"
        )
        self.assertEqual(options["listen"], ["tcp:9000", "unix:/tmp/chat.sock", "tcp:9001"])

    def test_shortListen(self) -> None:
        self.assertEqual(parse(*RAW, "-l", "tcp:9000")["listen"], ["tcp:9000"])

    def test_givenListenReplacesTheDefault(self) -> None:
        self.assertNotIn("tcp:8080", parse(*RAW, "--listen", "tcp:9000")["listen"])

    def test_listenDoesNotLeakBetweenParses(self) -> None:
        parse(*RAW, "--listen", "tcp:9000")
        self.assertEqual(parse(*RAW)["listen"], ["tcp:8080"])

    def test_unknownEndpointType(self) -> None:
        # Regression: --listen used to be parsed only in makeService, whose
        # ValueError twistd showed as a traceback (see tests/test_plugin.py).
        self.assertUsageError((*RAW, "--listen", "carrier-pigeon:9000"), "carrier-pigeon")

    def test_malformedTcpEndpoint(self) -> None:
        # Regression: as test_unknownEndpointType.
        self.assertUsageError((*RAW, "--listen", "tcp:notaport"), "notaport")


class ProtocolOptionTests(UsageErrorAssertions):
    def test_raw(self) -> None:
        self.assertEqual(parse("--protocol", "raw")["protocol"], "raw")

    def test_shortProtocol(self) -> None:
        self.assertEqual(parse("-p", "raw")["protocol"], "raw")

    def test_defaultIsAKnownProtocol(self) -> None:
        self.assertIn(parse()["protocol"], PROTOCOLS)

    def test_unknownProtocol(self) -> None:
        self.assertUsageError(("--protocol", "carrier-pigeon"), "carrier-pigeon", "raw")


class ShutdownTimeoutOptionTests(UsageErrorAssertions):
    def test_seconds(self) -> None:
        self.assertEqual(parse(*RAW, "--shutdown-timeout", "2.5")["shutdown-timeout"], 2.5)

    def test_zeroMeansAbortAtOnce(self) -> None:
        self.assertEqual(parse(*RAW, "--shutdown-timeout", "0")["shutdown-timeout"], 0.0)

    def test_defaultIsPositive(self) -> None:
        self.assertGreater(parse(*RAW)["shutdown-timeout"], 0)

    def test_negative(self) -> None:
        self.assertUsageError((*RAW, "--shutdown-timeout", "-1"), "--shutdown-timeout")

    def test_notANumber(self) -> None:
        self.assertUsageError((*RAW, "--shutdown-timeout", "soon"), "soon")


class UnknownOptionTests(UsageErrorAssertions):
    def test_unknownOption(self) -> None:
        self.assertUsageError((*RAW, "--colour", "blue"), "colour")


class AppOptionTests(UsageErrorAssertions):
    def app(self, spec: str) -> object:
        return parse(*RAW, "--app", spec)["application"]

    def test_defaultIsAnApplication(self) -> None:
        self.assertTrue(IApplication.providedBy(parse(*RAW)["application"]))

    def test_class(self) -> None:
        self.assertIsInstance(self.app("ratchet_tx.examples.chat:Chat"), Chat)

    def test_classGivesAFreshInstanceEachTime(self) -> None:
        spec = "ratchet_tx.examples.chat:Chat"
        self.assertIsNot(self.app(spec), self.app(spec))

    def test_shortApp(self) -> None:
        options = parse(*RAW, "-a", "ratchet_tx.examples.echo:Echo")
        self.assertIsInstance(options["application"], Echo)

    def test_factory(self) -> None:
        self.assertIsInstance(self.app("tests.support.apps:makeEcho"), Echo)

    def test_instance(self) -> None:
        self.assertIs(self.app("tests.support.apps:echoInstance"), apps.echoInstance)

    def test_dottedName(self) -> None:
        self.assertIsInstance(self.app("tests.support.apps:Namespace.Echo"), Echo)

    def test_missingModule(self) -> None:
        self.assertUsageError((*RAW, "--app", "nosuch.module:App"), "nosuch")

    def test_missingAttribute(self) -> None:
        self.assertUsageError((*RAW, "--app", "ratchet_tx.examples.chat:Nope"), "Nope")

    def test_notAnApp(self) -> None:
        self.assertUsageError((*RAW, "--app", "tests.support.apps:notAnApp"), "notAnApp")

    def test_factoryMakingSomethingElse(self) -> None:
        self.assertUsageError(
            (*RAW, "--app", "tests.support.apps:makesNothing"), "makesNothing", "IApplication"
        )

    def test_factoryThatRaises(self) -> None:
        """Even an error message of two lines gives a one-line usage error."""
        self.assertUsageError(
            (*RAW, "--app", "tests.support.apps:explodingFactory"),
            "explodingFactory",
            "the database is down",
        )

    def test_factoryNeedingArguments(self) -> None:
        self.assertUsageError(
            (*RAW, "--app", "ratchet_tx.server:Server"), "ratchet_tx.server:Server"
        )

    def test_notModuleColonName(self) -> None:
        for spec in ("ratchet_tx.examples.chat", "ratchet_tx.examples.chat:", ":Chat"):
            self.assertUsageError((*RAW, "--app", spec), "MODULE:NAME")

    def makeModule(self, name: str, source: str) -> None:
        """Write module C{name} into a directory on C{sys.path} for this test."""
        directory = tempfile.mkdtemp(prefix="ratchet-app-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        Path(directory, f"{name}.py").write_text(textwrap.dedent(source))
        sys.path.insert(0, directory)
        self.addCleanup(sys.path.remove, directory)
        self.addCleanup(sys.modules.pop, name, None)

    def test_moduleWithASyntaxError(self) -> None:
        self.makeModule("ratchet_test_syntax_error", "def broken(:\n")
        self.assertUsageError(
            (*RAW, "--app", "ratchet_test_syntax_error:App"), "ratchet_test_syntax_error"
        )

    def test_moduleFailingToImportWithAMultiLineMessage(self) -> None:
        """
        An import that fails with a message of several lines (as some C
        extensions' do, numpy's among them) still gives a one-line usage error.
        """
        # Regression: loadApplication used to put str(e) in the message,
        # newlines included, so twistd printed a two-line error.
        self.makeModule(
            "ratchet_test_import_error",
            """
            raise ImportError("libfoo.so.1: cannot open shared object file\\n"
                              "hint: apt-get install libfoo1")
            """,
        )
        self.assertUsageError(
            (*RAW, "--app", "ratchet_test_import_error:App"), "ratchet_test_import_error", "libfoo"
        )


class MakeServiceTests(SynchronousTestCase):
    def test_multiServiceWithOneListenerPerListen(self) -> None:
        options = parse(
            *RAW, "--listen", "tcp:0:interface=127.0.0.1", "--listen", "unix:/tmp/ratchet-test.sock"
        )
        service = makeService(options)
        self.assertIsInstance(service, MultiService)
        listeners = list(service)
        self.assertEqual(len(listeners), 2)
        for listener in listeners:
            self.assertIsInstance(listener, StreamServerEndpointService)

    def test_oneListenerByDefault(self) -> None:
        self.assertEqual(len(list(makeService(parse(*RAW)))), 1)

    def test_everyListenerServesTheSameServer(self) -> None:
        options = parse(*RAW, "--listen", "tcp:0", "--listen", "tcp:0")
        service = makeService(options)
        (factory,) = {listener.factory for listener in service}
        self.assertIsInstance(factory, Server)

    def test_rawServesTheApplicationItself(self) -> None:
        options = parse(*RAW, "--app", "tests.support.apps:echoInstance")
        (listener,) = makeService(options)
        self.assertIs(listener.factory.app, apps.echoInstance)

    def test_shutdownTimeoutIsPassedOn(self) -> None:
        service = makeService(parse(*RAW, "--shutdown-timeout", "7"))
        self.assertEqual(service.shutdownTimeout, 7.0)

    def test_doesNotListenUntilStarted(self) -> None:
        """twistd binds the ports (maybe as root) when it starts the service."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        service = makeService(parse(*RAW, "--listen", f"tcp:{port}:interface=127.0.0.1"))
        self.assertFalse(service.running)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # would fail if makeService had bound it


@implementer(IListeningPort)
class FakePort:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def startListening(self) -> None:
        pass

    def stopListening(self) -> None:
        self.events.append("stopped listening")

    def getHost(self) -> None:
        return None


@implementer(IStreamServerEndpoint)
class FakeEndpoint:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def listen(self, factory: Server):
        self.events.append("listening")
        return succeed(FakePort(self.events))


@implementer(IStreamServerEndpoint)
class BusyEndpoint:
    def listen(self, factory: Server):
        return fail(CannotListenError("127.0.0.1", 8080, OSError("address in use")))


class ServerServiceTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.events: list[str] = []
        self.clock = Clock()
        self.app = RecordingApplication(
            onClose=lambda conn: self.events.append(f"closed #{conn.id}")
        )
        self.server = Server(self.app)
        self.service = ServerService(
            self.server,
            [FakeEndpoint(self.events), FakeEndpoint(self.events)],
            shutdownTimeout=3,
            clock=self.clock,
        )

    def test_listensOnEveryEndpoint(self) -> None:
        self.service.startService()
        self.assertEqual(self.events, ["listening", "listening"])

    def test_stopClosesEveryClientAfterListeningStops(self) -> None:
        self.service.startService()
        a, _ = connectTo(self.server)
        b, _ = connectTo(self.server)
        self.successResultOf(self.service.stopService())
        self.assertEqual(self.events[:4], ["listening"] * 2 + ["stopped listening"] * 2)
        closed = sorted([f"closed #{a.connection.id}", f"closed #{b.connection.id}"])
        self.assertEqual(sorted(self.events[4:]), closed)
        self.assertEqual(self.server.protocols, set())

    def test_stopWaitsForClientsUpToTheShutdownTimeout(self) -> None:
        self.service.startService()
        slow, transport = connectTo(self.server, StubbornTransport())
        stopped = self.service.stopService()
        self.clock.advance(2.9)
        self.assertNoResult(stopped)
        self.clock.advance(0.1)
        self.assertTrue(transport.aborted)
        self.successResultOf(stopped)
        self.assertEqual(self.events[-1], f"closed #{slow.connection.id}")

    def test_stopWithNoClients(self) -> None:
        self.service.startService()
        self.successResultOf(self.service.stopService())

    def test_portInUseStopsTheStart(self) -> None:
        """A port that cannot be bound fails startService (and so twistd) loudly."""
        service = ServerService(Server(Echo()), [BusyEndpoint()], clock=self.clock)
        self.assertRaises(CannotListenError, service.startService)
