"""
The client scenario's picows client: picows' ws_connect on asyncio's default
event loop (and aiofastnet's transport, which picows uses by default where
it is installed, as here), a WSListener per connection answering each
verified echo (on_ws_frame) with the next message (WSTransport.send).

    python picows_client.py --port 9000 --conns 64 --inflight 16 --size 32

Frames are masked by picows itself: a key per frame from the C library's
rand() (not a cryptographic generator), the payload masked with SIMD code
(AVX2/SSE2).  picows hands over frames, not messages (the server never
fragments) and does not validate text: the client decodes each text frame
with get_payload_as_utf8_text(), which does, and compares the str.
"""

from __future__ import annotations

import asyncio
from typing import Any

from _common import CLOSE_GRACE, Meter, messages, parseArgs
from picows import WSListener, WSMsgType, ws_connect


class EchoCheck(WSListener):
    """One connection's side of the run."""

    def __init__(self, number: int, meter: Meter, conns: list[Any]) -> None:
        self.number = number
        self.meter = meter
        self.conns = conns
        self.sent = messages(number, meter.options)
        self.binary = meter.options.binary
        self.expected: list[Any] = (
            self.sent if self.binary else [m.decode("ascii") for m in self.sent]
        )
        self.msgType = WSMsgType.BINARY if self.binary else WSMsgType.TEXT
        self.nextIn = self.nextOut = 0
        self.transport: Any = None

    def on_ws_connected(self, transport: Any) -> None:
        self.transport = transport
        self.conns.append(self)
        if self.meter.connectionOpened():
            for conn in self.conns:
                conn.start()

    def start(self) -> None:
        for _ in range(self.meter.options.inflight):
            self.transport.send(self.msgType, self.sent[self.nextOut])
            self.nextOut += 1

    def on_ws_frame(self, transport: Any, frame: Any) -> None:
        msgType = frame.msg_type
        if msgType == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if msgType == WSMsgType.TEXT:
            message: Any = frame.get_payload_as_utf8_text()
        elif msgType == WSMsgType.BINARY:
            message = frame.get_payload_as_bytes()
        else:
            return  # pongs
        expected = self.expected
        if message != expected[self.nextIn] or msgType != self.msgType or not frame.fin:
            self.meter.mismatch(self.number, message, expected[self.nextIn])
            return
        self.nextIn = (self.nextIn + 1) % len(expected)
        meter = self.meter
        meter.received += 1
        if meter.sending:
            transport.send(self.msgType, self.sent[self.nextOut])
            self.nextOut = (self.nextOut + 1) % len(expected)

    def on_ws_disconnected(self, transport: Any) -> None:
        if self in self.conns:
            self.conns.remove(self)
        if not self.meter.done:
            self.meter.failed(f"connection {self.number} lost")


async def main() -> None:
    options = parseArgs(__doc__.split("\n\n")[0])
    loop = asyncio.get_running_loop()
    finished = asyncio.Event()
    meter = Meter(options, loop.call_later, finished.set)
    print(f"picows client: loop {type(loop).__name__}", flush=True)
    url = f"ws://{options.host}:{options.port}/"
    conns: list[EchoCheck] = []

    async def open(number: int) -> None:
        try:
            await ws_connect(
                lambda: EchoCheck(number, meter, conns),
                url,
                max_frame_size=64 << 20,
                websocket_handshake_timeout=30,
            )
        except Exception as e:
            meter.failed(f"connection {number}: {e!r}")

    opening = [asyncio.create_task(open(n)) for n in range(options.conns)]
    await finished.wait()
    for conn in list(conns):
        conn.transport.send_close()
        conn.transport.disconnect()
    waits = [asyncio.create_task(conn.transport.wait_disconnected()) for conn in list(conns)]
    if waits:
        await asyncio.wait(waits, timeout=CLOSE_GRACE)
    for task in opening + waits:
        task.cancel()
    await asyncio.gather(*opening, *waits, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())
