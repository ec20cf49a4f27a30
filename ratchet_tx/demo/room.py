# -*- test-case-name: tests.hub.test_demo -*-
"""
The demo chat room through a hub (L{HubDemoChat}): what C{twistd -n ratchet}
serves, so that processes sharing a C{--hub redis://...} are one room.

The protocol is L{ratchet_tx.demo.app}'s, with two additions: a C{chat}
message carries its C{offset}, which the page sends back when it
reconnects (C{/ws?since=<offset>}) to be replayed what it missed, and::

    {"type": "lost", "error": "..."}

tells a page that resumed too late that some messages could not be replayed.
The roster is the channel's presence, so it lists the clients of every
process.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ratchet_tx.commands import Call, CloseConnection, Composite, SendMessage
from ratchet_tx.demo.app import INTERNAL_ERROR, DemoChat, _describe, _encode
from ratchet_tx.hub import Delivery, HistoryLost, IHub, Publish, Subscribe, Unsubscribe
from ratchet_tx.interfaces import IConnection

#: The channel of the demo room.
CHANNEL = "demo"


def _withOffset(delivery: Delivery) -> str | bytes:
    """A chat message with its offset, made once for all its receivers."""
    message = delivery.message
    if isinstance(message, str) and message.startswith('{"type":"chat"'):
        return f'{message[:-1]},"offset":{json.dumps(str(delivery.offset))}}}'
    return message


class HubDemoChat(DemoChat):
    """
    L{DemoChat} with its room on a hub (see the module docstring).

    @ivar hub: the hub (C{None}: the process's).
    """

    def __init__(self, hub: IHub | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hub = hub

    def _hub(self) -> IHub:
        from ratchet_tx.hub import currentHub

        return self.hub if self.hub is not None else currentHub()

    def onOpen(self, conn: IConnection) -> Composite:
        conn.state.name = f"guest-{conn.id}"
        self.clients[conn.id] = conn
        you = dict(_describe(conn), id=self._hub().memberId(conn))
        since = parse_qs(str(getattr(conn, "query", "") or "")).get("since", [None])[0]
        return Composite(
            SendMessage(conn, _encode({"type": "welcome", "you": you})),
            self._subscribe(conn, since),
            Call(self._publishRoster),
        )

    def _subscribe(self, conn: IConnection, since: str | None = None) -> Subscribe:
        info = dict(_describe(conn), id=self._hub().memberId(conn))
        return Subscribe(conn, CHANNEL, since, info=info, render=_withOffset, hub=self._hub())

    def onClose(self, conn: IConnection) -> Composite | None:  # type: ignore[override]
        if self.clients.pop(conn.id, None) is None:
            return None
        return Composite(Unsubscribe(conn, CHANNEL, hub=self._hub()), Call(self._publishRoster))

    def onError(  # type: ignore[override]
        self, conn: IConnection, failure: Any
    ) -> SendMessage | CloseConnection:
        if isinstance(failure, Failure) and failure.check(HistoryLost):
            return SendMessage(conn, _encode({"type": "lost", "error": str(failure.value)}))
        if (
            isinstance(failure, Failure)
            and failure.check(ValueError)
            and "offset" in str(failure.value)
        ):
            return SendMessage(conn, _encode({"type": "lost", "error": str(failure.value)}))
        return CloseConnection(conn, INTERNAL_ERROR)

    def _clientId(self, conn: IConnection) -> int | str:
        # Unique across processes, where connection ids are not.
        return self._hub().memberId(conn)

    def _rename(self, conn: IConnection, request: dict[str, Any]) -> Any:
        super()._rename(conn, request)
        return Composite(self._subscribe(conn), Call(self._publishRoster))

    def _publishRoster(self) -> Deferred[Any]:
        hub = self._hub()

        def publish(members: list[Any]) -> Publish:
            clients = [m.info for m in members if isinstance(m.info, dict)]
            return Publish(CHANNEL, _encode({"type": "roster", "clients": clients}), hub=hub)

        return hub.presence(CHANNEL).addCallback(publish)

    def _broadcast(self, message: dict[str, Any]) -> Any:
        return Publish(CHANNEL, _encode(message), hub=self._hub())
