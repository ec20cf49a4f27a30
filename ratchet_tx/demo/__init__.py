# -*- test-case-name: tests.test_demo -*-
"""
The built-in demo that C{twistd -n ratchet} serves: a chat page at C{/} and
its WebSocket application, L{DemoChat}, at C{/ws}, on one port::

    root, chat = demoResource()
    serverFromString(reactor, "tcp:8080").listen(Site(root))

The page (C{static/}) uses nothing but the browser's own C{WebSocket}, so it
shows every client in the room with the protocol version it speaks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.web.resource import Resource

from ratchet_tx.demo.app import DemoChat
from ratchet_tx.demo.room import HubDemoChat
from ratchet_tx.hub.interfaces import IHub
from ratchet_tx.web import StaticFiles, WebSocketResource

__all__ = ["STATIC", "DemoChat", "demoResource"]

#: The folder of the demo page: C{index.html}, C{app.js}, C{style.css}.
STATIC = Path(__file__).resolve().parent / "static"

#: Where the demo's WebSocket is, below the page.
WEBSOCKET_CHILD = b"ws"

#: The page loads nothing from elsewhere and connects only to its own host.
_CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def demoResource(
    hub: IHub | None = None, **websocketSettings: Any
) -> tuple[Resource, WebSocketResource]:
    """
    The demo site: the chat page at C{/}, L{DemoChat} at C{/ws}.

    @param hub: the room's hub: with one, the room is a
        L{ratchet_tx.demo.room.HubDemoChat} on it (shared by every process
        of the hub); without, a L{DemoChat} of its own.

    @param websocketSettings: for the WebSocket layer, as
        L{ratchet_tx.websocket.WebSocket} takes them (C{settings=} or the
        fields of L{ratchet_tx.websocket.Settings}).
    @return: the site's root resource, and the L{WebSocketResource} at
        C{/ws} (its C{serverFactory.closeAll} closes the chat's clients).
    """
    root = StaticFiles(str(STATIC), {b"content-security-policy": _CONTENT_SECURITY_POLICY})
    app = DemoChat() if hub is None else HubDemoChat(hub)
    chat = WebSocketResource(app, **websocketSettings)
    root.putChild(WEBSOCKET_CHILD, chat)
    return root, chat
