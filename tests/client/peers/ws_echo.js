// An echo server on node's `ws`, for the client's interop tests: prints its
// port, echoes every message, `frag:...` in 3-byte fragments, and closes with
// the code of `close:CODE`.   node ws_echo.js [--no-deflate]
const { WebSocketServer } = require("ws");

const deflate = !process.argv.includes("--no-deflate");
const server = new WebSocketServer({
  host: "127.0.0.1", port: 0, perMessageDeflate: deflate, maxPayload: 64 * 1024 * 1024,
});
server.on("listening", () => console.log(server.address().port));
server.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    const text = isBinary ? null : data.toString();
    if (text !== null && text.startsWith("close:")) {
      ws.close(Number(text.slice(6)), "asked");
    } else if (text !== null && text.startsWith("frag:")) {
      for (let i = 0; i < text.length; i += 3) {
        ws.send(text.slice(i, i + 3), { fin: i + 3 >= text.length, binary: false });
      }
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
});
