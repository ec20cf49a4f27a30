/*
 * The ratchet_tx demo chat: the browser's own WebSocket and the DOM, nothing
 * else.  Written in ES5 on purpose, so the browsers of the Hixie-76 era
 * (Safari 5, iOS 4.2) run it too.  User text only ever goes into the page as
 * textContent, never as HTML.
 */
(function () {
  "use strict";

  var VERSION_LABELS = {
    "rfc6455": "RFC 6455",
    "hybi-10": "HyBi-10",
    "hybi-07": "HyBi-07",
    "hixie-76": "Hixie-76",
    "hixie-75": "Hixie-75"
  };
  var MAX_TEXT_LENGTH = 4000;
  var MAX_MESSAGES = 500;
  var FIRST_RETRY_MS = 1000;
  var LAST_RETRY_MS = 30000;

  var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";

  function byId(id) { return document.getElementById(id); }
  var messages = byId("messages");
  var input = byId("input");
  var send = byId("send");
  var roster = byId("roster");
  var count = byId("count");
  var status = byId("status");
  var nameInput = byId("name");
  var renameButton = byId("rename");

  var socket = null;
  var me = null;        // {id, name, version} from the welcome
  var names = null;     // id -> name, from the last roster
  var retryMs = FIRST_RETRY_MS;

  // Building the page.

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function versionLabel(version) {
    return VERSION_LABELS[version] || String(version);
  }

  function versionFamily(version) {
    var v = String(version);
    return v.indexOf("hixie") === 0 ? "hixie" : v.indexOf("hybi") === 0 ? "hybi" : "rfc";
  }

  function colorFor(id) {
    return "hsl(" + ((id * 137) % 360) + ", 55%, 40%)";
  }

  function clockTime(ms) {
    var d = new Date(ms);
    var m = d.getMinutes();
    return d.getHours() + ":" + (m < 10 ? "0" : "") + m;
  }

  function append(item) {
    var atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
    messages.appendChild(item);
    while (messages.childNodes.length > MAX_MESSAGES) {
      messages.removeChild(messages.firstChild);
    }
    if (atBottom) { messages.scrollTop = messages.scrollHeight; }
  }

  function notice(text, kind) {
    append(element("li", "notice" + (kind ? " " + kind : ""), text));
  }

  function showChat(message) {
    var mine = me !== null && message.from.id === me.id;
    var item = element("li", "message" + (mine ? " mine" : ""));
    var meta = element("div", "meta");
    var author = element("span", "author", message.from.name);
    author.style.color = colorFor(message.from.id);
    meta.appendChild(author);
    meta.appendChild(element("time", "at", clockTime(message.at)));
    item.appendChild(meta);
    item.appendChild(element("div", "text", message.text));
    append(item);
  }

  function showRoster(clients) {
    while (roster.firstChild) { roster.removeChild(roster.firstChild); }
    for (var i = 0; i < clients.length; i++) {
      var client = clients[i];
      var isMe = me !== null && client.id === me.id;
      var item = element("li", "client" + (isMe ? " me" : ""));
      item.setAttribute("data-id", client.id);
      var dot = element("span", "dot");
      dot.style.backgroundColor = colorFor(client.id);
      item.appendChild(dot);
      item.appendChild(element("span", "name", client.name));
      if (isMe) { item.appendChild(element("span", "you", "you")); }
      item.appendChild(element("span", "badge " + versionFamily(client.version),
                               versionLabel(client.version)));
      roster.appendChild(item);
    }
    count.textContent = String(clients.length);
  }

  // What changed since the last roster, as notices in the chat.
  function announceChanges(clients) {
    var next = {};
    for (var i = 0; i < clients.length; i++) {
      var c = clients[i];
      next[c.id] = c.name;
      if (names === null) { continue; }
      if (!names.hasOwnProperty(c.id)) {
        notice(c.name + " joined (" + versionLabel(c.version) + ")");
      } else if (names[c.id] !== c.name) {
        notice(names[c.id] + " is now " + c.name);
      }
    }
    if (names !== null) {
      for (var id in names) {
        if (names.hasOwnProperty(id) && !next.hasOwnProperty(id)) {
          notice(names[id] + " left");
        }
      }
    }
    names = next;
  }

  // The protocol.

  var handlers = {
    welcome: function (message) {
      me = message.you;
      nameInput.value = me.name;
      notice("You are " + me.name + ", speaking " + versionLabel(me.version) + ".");
    },
    roster: function (message) {
      for (var i = 0; i < message.clients.length; i++) {
        var c = message.clients[i];
        if (me !== null && c.id === me.id && c.name !== me.name) {
          me.name = c.name;
          if (document.activeElement !== nameInput) { nameInput.value = c.name; }
        }
      }
      announceChanges(message.clients);
      showRoster(message.clients);
    },
    chat: showChat,
    error: function (message) {
      notice(message.error, "error");
    },
    lost: function () {
      notice("Some messages sent while you were away could not be shown.", "error");
    }
  };

  function setStatus(state, text) {
    status.setAttribute("data-state", state);
    status.className = "status " + state;
    status.textContent = text;
  }

  function setEnabled(enabled) {
    input.disabled = send.disabled = nameInput.disabled = renameButton.disabled = !enabled;
    document.body.className = enabled ? "" : "offline";
  }

  function sendJSON(message) {
    if (socket === null || socket.readyState !== 1) {
      notice("Not connected.", "error");
      return false;
    }
    socket.send(JSON.stringify(message));
    return true;
  }

  // The offset of the last chat message seen: a reconnection resumes from it.
  var lastOffset = null;

  function connect() {
    setStatus("connecting", "connecting…");
    me = null;
    names = null;
    try {
      socket = new WebSocket(lastOffset ? url + "?since=" + encodeURIComponent(lastOffset) : url);
    } catch (e) {
      reconnectLater(null);
      return;
    }
    socket.onopen = function () {
      retryMs = FIRST_RETRY_MS;
      setStatus("connected", "connected");
      setEnabled(true);
    };
    socket.onmessage = function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (message && typeof message.offset === "string") { lastOffset = message.offset; }
      var handle = message && handlers.hasOwnProperty(message.type) && handlers[message.type];
      if (handle) { handle(message); }
    };
    socket.onclose = function (event) {
      socket = null;
      setEnabled(false);
      reconnectLater(event.code);
    };
  }

  function reconnectLater(code) {
    var wait = Math.round(retryMs * (0.8 + 0.4 * Math.random()));
    retryMs = Math.min(retryMs * 2, LAST_RETRY_MS);
    var closed = "closed" + (code ? " (" + code + ")" : "");
    setStatus("closed", closed + " · retrying in " + Math.ceil(wait / 1000) + " s");
    setTimeout(connect, wait);
  }

  // The forms.

  byId("composer").onsubmit = function (event) {
    event.preventDefault();
    var text = input.value;
    if (!/\S/.test(text)) { return; }
    if (text.length > MAX_TEXT_LENGTH) {
      notice("A message is at most " + MAX_TEXT_LENGTH + " characters.", "error");
      return;
    }
    if (sendJSON({type: "chat", text: text})) {
      input.value = "";
      input.focus();
    }
  };

  byId("rename-form").onsubmit = function (event) {
    event.preventDefault();
    var name = nameInput.value.replace(/^\s+|\s+$/g, "");
    if (name && (me === null || name !== me.name)) {
      sendJSON({type: "rename", name: name});
    }
  };

  connect();
}());
