"""
picows: echo, and text starting with "B" to every other client.

    python picows_server.py --port 9000

picows hands over frames, not messages (the load generator never fragments),
and leaves UTF-8 validation of text to the application (none here).
"""

import argparse
import asyncio

from picows import WSListener, WSMsgType, WSTransport, ws_create_server

clients = set()


class BenchListener(WSListener):
    def on_ws_connected(self, transport: WSTransport):
        clients.add(transport)

    def on_ws_frame(self, transport: WSTransport, frame):
        msg_type = frame.msg_type
        if msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif msg_type == WSMsgType.TEXT and frame.get_payload_as_memoryview()[:1] == b"B":
            payload = frame.get_payload_as_bytes()
            for client in clients:
                if client is not transport:
                    client.send(WSMsgType.TEXT, payload)
        elif msg_type in (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION):
            transport.send(msg_type, frame.get_payload_as_memoryview(), frame.fin)

    def on_ws_disconnected(self, transport: WSTransport):
        clients.discard(transport)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = await ws_create_server(
        lambda request: BenchListener(), args.host, args.port, max_frame_size=64 << 20
    )
    print(f"picows: loop {type(asyncio.get_running_loop()).__name__}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
