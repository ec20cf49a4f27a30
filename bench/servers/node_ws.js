// node + ws: echo, and text starting with "B" to every other client.
//
//     node node_ws.js --port 9000 [--deflate]
//
// --deflate turns ws's permessage-deflate on (off by default here), without
// context takeover either way, and with threshold 0: ws's default threshold
// leaves messages under 1 KiB uncompressed, which would be every chat
// message.  ws compresses every receiver's copy on its own.
'use strict';
const { WebSocketServer, WebSocket } = require('ws');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const host = option('--host', '127.0.0.1');
const port = Number(option('--port'));
const perMessageDeflate = args.includes('--deflate')
  ? { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true }
  : false;

const wss = new WebSocketServer({ host, port, maxPayload: 64 << 20, perMessageDeflate });

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data[0] === 0x42 /* "B" */) {
      for (const client of wss.clients) {
        if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data, { binary: false });
      }
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
});
wss.on('listening', () =>
  console.log(
    `node ${process.version}, ws ${require('ws/package.json').version}, ` +
      `permessage-deflate ${JSON.stringify(perMessageDeflate)}`,
  ),
);
