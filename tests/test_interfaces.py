"""
Every implementation provides the interface it declares, completely.
"""

from __future__ import annotations

from twisted.internet.interfaces import IPushProducer
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyClass, verifyObject

from ratchet_tx import (
    NULL,
    Call,
    CloseConnection,
    Composite,
    ConnectionDecorator,
    IApplication,
    ICommand,
    IConnection,
    Null,
    SendMessage,
    Server,
    TransportConnection,
)
from ratchet_tx.examples.chat import Chat
from ratchet_tx.examples.echo import Echo
from tests.support.apps import FakeConnection, RecordingApplication, connectTo


class ConnectionInterfaceTests(SynchronousTestCase):
    def test_transportConnection(self) -> None:
        verifyObject(IConnection, TransportConnection(StringTransport()))

    def test_connectionDecorator(self) -> None:
        verifyObject(IConnection, ConnectionDecorator(TransportConnection(StringTransport())))

    def test_connectionDecoratorOfADecorator(self) -> None:
        inner = ConnectionDecorator(TransportConnection(StringTransport()))
        verifyObject(IConnection, ConnectionDecorator(inner))

    def test_fakeConnection(self) -> None:
        """The test fake is a faithful connection, so tests using it mean something."""
        verifyObject(IConnection, FakeConnection())


class CommandInterfaceTests(SynchronousTestCase):
    def test_sendMessage(self) -> None:
        verifyObject(ICommand, SendMessage(FakeConnection(), b"hi"))

    def test_closeConnection(self) -> None:
        verifyObject(ICommand, CloseConnection(FakeConnection(), 1000, "bye"))

    def test_composite(self) -> None:
        verifyObject(ICommand, Composite(SendMessage(FakeConnection(), "hi")))

    def test_emptyComposite(self) -> None:
        verifyObject(ICommand, Composite())

    def test_null(self) -> None:
        verifyObject(ICommand, NULL)
        verifyClass(ICommand, Null)

    def test_call(self) -> None:
        verifyObject(ICommand, Call(print, "hi"))


class ApplicationInterfaceTests(SynchronousTestCase):
    def test_echo(self) -> None:
        verifyObject(IApplication, Echo())

    def test_chat(self) -> None:
        verifyObject(IApplication, Chat())

    def test_recordingApplication(self) -> None:
        """The test fake is a faithful application."""
        verifyObject(IApplication, RecordingApplication())


class ServerProtocolInterfaceTests(SynchronousTestCase):
    def test_serverProtocolIsAPushProducer(self) -> None:
        """
        The protocol is the push producer its transport pauses when the
        peer's write buffer is full.
        """
        proto, _ = connectTo(Server(Echo()))
        verifyObject(IPushProducer, proto)
