"""
Django Channels on daphne, across processes through channels_redis: the
fanout scenario's ASGI application (a Django project in one module).

    BENCH_REDIS_URL=redis://127.0.0.1:6379/0 BENCH_CHANNEL_LAYER=pubsub \\
        python -m daphne -b 127.0.0.1 -p 9000 channels_site:application

Every WebSocket consumer joins one group when it connects; a text message
starting with "B" goes to the group with group_send() (awaited in the
consumer, the way Channels' tutorial chat does it), and the group's handler
sends it on to every consumer but the sender.  Anything else goes back to
its sender.

BENCH_CHANNEL_LAYER chooses the channel layer:

- "pubsub" (the default): channels_redis' RedisPubSubChannelLayer.  A
  group_send is one PUBLISH on the group's Redis channel; each process
  subscribes to it once and queues the message for each of its consumers in
  the group.
- "core": channels_redis' RedisChannelLayer, Channels' usual choice.  A
  group_send reads the group's members from a sorted set (ZRANGE, every
  member's name every time) and runs a script that adds the message to
  each process's queue (a sorted set), which the process pops.
"""

import os

import django
from django.conf import settings

LAYERS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}
GROUP = "fanout"

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    INSTALLED_APPS=["channels"],
    SECRET_KEY="bench-only, no secrets here",
    USE_TZ=True,
    CHANNEL_LAYERS={
        "default": {
            "BACKEND": LAYERS[os.environ.get("BENCH_CHANNEL_LAYER", "pubsub")],
            "CONFIG": {"hosts": [os.environ["BENCH_REDIS_URL"]]},
        }
    },
)
django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter  # noqa: E402


class Fanout(AsyncWebsocketConsumer):
    """Echo, except text starting with "B": that goes to the whole group."""

    async def connect(self):
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is not None and text_data[:1] == "B":
            await self.channel_layer.group_send(
                GROUP, {"type": "fanout.message", "text": text_data, "sender": self.channel_name}
            )
        elif text_data is not None:
            await self.send(text_data=text_data)
        else:
            await self.send(bytes_data=bytes_data)

    async def fanout_message(self, event):
        if event["sender"] != self.channel_name:
            await self.send(text_data=event["text"])


application = ProtocolTypeRouter({"websocket": Fanout.as_asgi()})
