# -*- test-case-name: tests.test_demo -*-
"""
The demo chat room behind C{twistd -n ratchet}: every client has a name, sees
who else is here and which WebSocket version each of them speaks.

The protocol is JSON text messages (text only, so Hixie-76/75 clients take
part like everyone else).  From the server::

    {"type": "welcome", "you": {"id": 7, "name": "guest-7", "version": "rfc6455"}}
    {"type": "roster", "clients": [{"id": 7, "name": "guest-7", "version": "rfc6455"}, ...]}
    {"type": "chat", "from": {"id": 7, "name": "guest-7"}, "text": "hi", "at": 1700000000000}
    {"type": "error", "error": "a message is at most 4000 characters"}

C{at} is the server's time in milliseconds since the epoch (what JavaScript's
C{new Date(at)} takes).  A C{roster} goes to everyone whenever someone joins,
leaves or changes name; a C{chat} goes to everyone, its sender included, so
the sender sees it confirmed.  From a client::

    {"type": "chat", "text": "hi"}
    {"type": "rename", "name": "ada"}

Anything else gets an C{error} message back, to that client only; the
connection stays open.
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from ratchet_tx.commands import Broadcast, CloseConnection, Composite, SendMessage
from ratchet_tx.interfaces import IApplication, IConnection

#: The longest chat message accepted, in characters.
MAX_TEXT_LENGTH = 4000

#: The longest name accepted, in characters (after trimming spaces).
MAX_NAME_LENGTH = 32

#: The close code when the application fails on a connection (RFC 6455: 1011).
INTERNAL_ERROR = 1011


class InvalidMessage(ValueError):
    """A client sent something the demo protocol does not allow."""


@implementer(IApplication)
class DemoChat:
    """
    A chat room for WebSocket clients of every version.

    @param now: the clock for the C{at} of chat messages, in seconds since
        the epoch (for tests).
    @ivar clients: the connected clients, in the order they joined.
    """

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self.clients: dict[int, IConnection] = {}

    # IApplication.

    def onOpen(self, conn: IConnection) -> Composite:
        conn.state.name = f"guest-{conn.id}"
        self.clients[conn.id] = conn
        welcome = _encode({"type": "welcome", "you": _describe(conn)})
        return Composite(SendMessage(conn, welcome), self._roster())

    def onMessage(self, conn: IConnection, message: str | bytes) -> Broadcast | SendMessage:
        try:
            request = _parse(message)
            kind = request.get("type")
            if kind == "chat":
                return self._chat(conn, request)
            if kind == "rename":
                return self._rename(conn, request)
            raise InvalidMessage(f"unknown message type {kind!r}; send 'chat' or 'rename'")
        except InvalidMessage as error:
            return SendMessage(conn, _encode({"type": "error", "error": str(error)}))

    def onClose(self, conn: IConnection) -> Broadcast | None:
        if self.clients.pop(conn.id, None) is None:
            return None
        return self._roster()

    def onError(self, conn: IConnection, failure: object) -> CloseConnection:
        return CloseConnection(conn, INTERNAL_ERROR)

    # The requests.

    def _chat(self, conn: IConnection, request: dict[str, Any]) -> Broadcast:
        text = request.get("text")
        if not isinstance(text, str):
            raise InvalidMessage("'text' must be a string")
        if not text.strip():
            raise InvalidMessage("a message cannot be empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise InvalidMessage(f"a message is at most {MAX_TEXT_LENGTH} characters")
        return self._broadcast(
            {
                "type": "chat",
                "from": {"id": self._clientId(conn), "name": conn.state.name},
                "text": text,
                "at": int(self._now() * 1000),
            }
        )

    def _clientId(self, conn: IConnection) -> int | str:
        """The id by which the pages know C{conn}: its welcome's C{you.id}."""
        return conn.id

    def _rename(self, conn: IConnection, request: dict[str, Any]) -> Broadcast:
        name = request.get("name")
        if not isinstance(name, str):
            raise InvalidMessage("'name' must be a string")
        name = name.strip()
        if not name:
            raise InvalidMessage("a name cannot be empty")
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidMessage(f"a name is at most {MAX_NAME_LENGTH} characters")
        if any(unicodedata.category(c).startswith("C") for c in name):
            raise InvalidMessage("a name cannot contain control or invisible characters")
        conn.state.name = name
        return self._roster()

    # Sending to everyone.

    def _roster(self) -> Broadcast:
        clients = [_describe(c) for c in self.clients.values()]
        return self._broadcast({"type": "roster", "clients": clients})

    def _broadcast(self, message: dict[str, Any]) -> Broadcast:
        # One str for everyone: the WebSocket layer frames it once per
        # protocol version, not once per client.
        return Broadcast(self.clients.values(), _encode(message))


def _describe(conn: IConnection) -> dict[str, Any]:
    version = getattr(conn, "version", None)
    return {
        "id": conn.id,
        "name": conn.state.name,
        "version": getattr(version, "value", None) or "raw",
    }


def _encode(message: dict[str, Any]) -> str:
    # ASCII only: a lone surrogate that came in as a JSON escape goes back out
    # as one, instead of failing to encode as UTF-8.
    return json.dumps(message, separators=(",", ":"))


def _parse(message: str | bytes) -> dict[str, Any]:
    if not isinstance(message, str):
        raise InvalidMessage("send JSON as a text message, not binary")
    try:
        request = json.loads(message)
    except (ValueError, RecursionError):
        raise InvalidMessage("not JSON") from None
    if not isinstance(request, dict):
        raise InvalidMessage("send a JSON object with a 'type'")
    return request
