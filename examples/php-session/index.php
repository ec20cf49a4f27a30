<?php
// A small web site whose sessions live in Redis (PHP's session module with
// the phpredis save handler): log in with a name, chat on the ratchet_tx
// server, which reads the same session; log out, and the chat refuses you.
$redis = getenv('REDIS_URL') ?: 'tcp://127.0.0.1:6379?database=0';
$chat = getenv('CHAT_URL') ?: 'ws://127.0.0.1:8081/chat';
ini_set('session.save_handler', 'redis');
ini_set('session.save_path', $redis);
session_start();

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    if (($_POST['action'] ?? '') === 'login' && trim($_POST['name'] ?? '') !== '') {
        session_regenerate_id(true);
        $_SESSION['name'] = trim($_POST['name']);
    } else {
        $_SESSION = [];
        session_destroy();
    }
    header('Location: /', true, 303);
    exit;
}
$name = $_SESSION['name'] ?? null;
?><!DOCTYPE html>
<html><head><meta charset="utf-8"><title>PHP session chat</title></head>
<body>
<?php if ($name === null): ?>
  <form id="login" method="post">
    <input type="hidden" name="action" value="login">
    <label>Name <input id="name" name="name" autofocus></label>
    <button>Log in</button>
  </form>
<?php else: ?>
  <p id="hello">Hello <?= htmlspecialchars($name) ?></p>
  <form id="logout" method="post"><input type="hidden" name="action" value="logout">
    <button>Log out</button></form>
  <p id="status" data-state="connecting">connecting</p>
  <ul id="log"></ul>
  <form id="say"><input id="message" autocomplete="off"><button>Send</button></form>
  <script>
    const status = document.getElementById('status');
    const log = document.getElementById('log');
    const socket = new WebSocket(<?= json_encode($chat) ?>);
    socket.onopen = () => { status.dataset.state = status.textContent = 'connected'; };
    socket.onclose = () => { status.dataset.state = status.textContent = 'closed'; };
    socket.onmessage = (event) => {
      const line = document.createElement('li');
      line.textContent = event.data;
      log.appendChild(line);
    };
    document.getElementById('say').onsubmit = (event) => {
      event.preventDefault();
      const input = document.getElementById('message');
      socket.send(input.value);
      input.value = '';
    };
  </script>
<?php endif; ?>
</body></html>
