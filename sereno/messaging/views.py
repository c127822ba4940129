"""One webhook for every channel: /hooks/<kind>/<channel uuid>/[<endpoint>/].

The channel's transport authenticates the request and parses it. A request that fails
authentication is logged without its payload and answered 403; a disabled or unknown channel
is 404, so that nobody can probe which channels exist.

The channel, its transport and its decrypted configuration are kept per process for
CHANNEL_CACHE_SECONDS (a query and an unsealing less per message). Saving or deleting a
channel empties this process's cache at once; other processes see the change within those
seconds.
"""

import logging
import threading
import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sereno.lib.errors import InvalidInput
from sereno.messaging.models import Channel
from sereno.messaging.transports import transport_for
from sereno.messaging.transports.base import AuthenticationFailed, Transport

log = logging.getLogger(__name__)

CHANNEL_CACHE_SECONDS = 5.0
_cache: dict[tuple[str, str], tuple[float, Transport | None]] = {}
_cache_lock = threading.Lock()


@receiver(post_save, sender=Channel, dispatch_uid="messaging-hook-channel-saved")
@receiver(post_delete, sender=Channel, dispatch_uid="messaging-hook-channel-deleted")
def forget_channels(**_kwargs) -> None:
    with _cache_lock:
        _cache.clear()


def _transport(kind: str, channel_uuid) -> Transport | None:
    key = (kind, str(channel_uuid))
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    channel = Channel.objects.filter(uuid=channel_uuid, kind=kind, enabled=True).first()
    transport = transport_for(channel) if channel is not None else None
    with _cache_lock:
        if len(_cache) > 1000:
            _cache.clear()  # someone probing uuids
        _cache[key] = (now + CHANNEL_CACHE_SECONDS, transport)
    return transport


@csrf_exempt
def hook(request, kind: str, channel_uuid, endpoint: str = "inbound"):
    transport = _transport(kind, channel_uuid)
    if transport is None:
        raise Http404
    try:
        return transport.handle(request, endpoint)
    except AuthenticationFailed as exc:
        log.warning(
            "inbound request refused: channel=%s endpoint=%s reason=%s",
            transport.channel.pk,
            endpoint,
            exc,
        )
        return HttpResponse(status=403)
    except InvalidInput as exc:
        return JsonResponse({"error": {"code": "invalid", "message": str(exc)}}, status=400)
