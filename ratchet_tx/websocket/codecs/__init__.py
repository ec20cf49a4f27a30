"""
Sans-I/O WebSocket codecs: opening handshakes (both sides) and framing for every
version, and the Flash socket policy.

Nothing in this package imports Twisted or touches a socket.  Each codec is fed
bytes and returns events (or raises a protocol error that says how to answer);
it builds the bytes to write but never writes them.  The Twisted-facing layer in
L{ratchet_tx.websocket} drives these objects.
"""
