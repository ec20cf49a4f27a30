# -*- test-case-name: tests.session.test_provider -*-
"""
What the application sees of a session: L{Session}, a read-only mapping
that can be read again, on L{SessionConnection}, the session layer's view of
a connection (C{conn.session}).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from twisted.internet.defer import Deferred

from ratchet_tx.connection import ConnectionDecorator
from ratchet_tx.interfaces import IConnection

#: Reads the session again: a Deferred firing with its data, or C{None} for
#: no valid session; failing with
#: L{ratchet_tx.session.errors.SessionUnavailable}.
Reloader = Callable[[], "Deferred[Mapping[Any, Any] | None]"]

_EMPTY: Mapping[Any, Any] = {}


class Session(Mapping[Any, Any]):
    """
    The web site's session for one connection, read-only: empty when the
    client sent no session cookie or no valid session.

    The values are the decoder's own (fresh for every read): changing a
    nested value changes nothing in the store.
    """

    __slots__ = ("_data", "_reloader")

    def __init__(self, data: Mapping[Any, Any] | None, reloader: Reloader) -> None:
        self._data = _EMPTY if data is None else data
        self._reloader = reloader

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Session({dict(self._data)!r})"

    def reload(self) -> Deferred[Session]:
        """
        Read the session from the store again (the user may have logged out
        elsewhere), within the layer's lookup timeout.

        @return: a Deferred firing with this session, now holding what the
            store holds (empty if the session is gone or no longer valid);
            or failing with L{ratchet_tx.session.errors.SessionUnavailable},
            the session unchanged, if the store cannot be reached.
        """
        return self._reloader().addCallback(self._replace)

    def _replace(self, data: Mapping[Any, Any] | None) -> Session:
        self._data = _EMPTY if data is None else data
        return self


class SessionConnection(ConnectionDecorator):
    """
    A connection with the web site's session: C{conn.session}.

    Everything else (C{send}, C{close}, C{path}, C{cookies}, C{subprotocol},
    C{version}, ...) is the wrapped connection's, read and written through.

    @ivar session: the L{Session}.
    """

    __slots__ = ("opened", "session")

    def __init__(self, wrapped: IConnection, session: Session) -> None:
        super().__init__(wrapped)
        self.session = session
        #: Whether the layer told the application it opened.
        self.opened = False

    def __getattr__(self, name: str) -> Any:
        if name == "wrapped":  # not set yet: do not recurse
            raise AttributeError(name)
        return getattr(self.wrapped, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self.wrapped, name, value)


_OWN = frozenset({"wrapped", "opened", "session"})
