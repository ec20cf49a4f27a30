"""
The session formats of web frameworks, decoded without the frameworks: pure
functions (bytes in, values out, L{ratchet_tx.session.errors.InvalidSession}
out for anything else), no Twisted, every decoder bounded by
L{limits.Limits}.
"""
