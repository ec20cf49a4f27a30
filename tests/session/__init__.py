"""
Tests of L{ratchet_tx.session}: the decoders against sessions the real
frameworks write (Django, Flask, Starlette, PHP's own session module), the
stores, and the session layer through the real WebSocket layer.
"""
