"""One webhook for every channel: /hooks/<kind>/<channel uuid>/[<endpoint>/].

The channel's transport authenticates the request and parses it. A request that fails
authentication is logged without its payload and answered 403; a disabled or unknown channel
is 404, so that nobody can probe which channels exist.
"""

import logging

from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sereno.lib.errors import InvalidInput
from sereno.messaging.models import Channel
from sereno.messaging.transports import transport_for
from sereno.messaging.transports.base import AuthenticationFailed

log = logging.getLogger(__name__)


@csrf_exempt
def hook(request, kind: str, channel_uuid, endpoint: str = "inbound"):
    channel = Channel.objects.filter(uuid=channel_uuid, kind=kind, enabled=True).first()
    if channel is None:
        raise Http404
    transport = transport_for(channel)
    try:
        return transport.handle(request, endpoint)
    except AuthenticationFailed as exc:
        log.warning(
            "inbound request refused: channel=%s endpoint=%s reason=%s",
            channel.pk,
            endpoint,
            exc,
        )
        return HttpResponse(status=403)
    except InvalidInput as exc:
        return JsonResponse({"error": {"code": "invalid", "message": str(exc)}}, status=400)
