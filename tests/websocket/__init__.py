"""
Tests of the WebSocket protocol layer, driven through C{Server(WebSocket(app))}
over in-memory transports with a fake clock.
"""
