"""
The WebSocket protocol layer: every version, one port.
"""
