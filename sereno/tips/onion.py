"""The tip line over Tor: an onion-only switch and the Onion-Location header.

With SERENO_TIPS_ONION_ONLY on, a source's tip-line page asked for on any address other than
a .onion one gets a warning page (403) telling the source to use Tor Browser, instead of the
form: a source on the open web is visible to their internet provider, their employer's
network and anyone watching it. 403 rather than 421 (Misdirected Request): browsers may retry
a 421 on another connection, and some show no page for it; 403 always shows the page. The
request body is never read, so nothing a source typed on the open web is taken in.

With SERENO_ONION_HOST set, tip pages on other addresses also carry `Onion-Location`, so
Tor Browser offers the onion address (it honours the header on HTTPS pages).
"""

from django.conf import settings
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

TIPS_PREFIX = "/tips/"
# Recipients' pages (signed in, with TOTP) stay reachable on the open address: the switch
# protects sources. They still get Onion-Location.
STAFF_URLS = ("tips:inbox", "tips:keys", "tips:escrow", "tips:channels_manage")


def _staff_prefixes() -> tuple[str, ...]:
    prefixes = []
    for name in STAFF_URLS:
        try:
            prefixes.append(reverse(name))
        except NoReverseMatch:
            continue
    return tuple(prefixes)


def onion_host() -> str:
    return (getattr(settings, "ONION_HOST", "") or "").strip().lower().rstrip(".")


def onion_only() -> bool:
    return bool(getattr(settings, "TIPS_ONION_ONLY", False))


def is_onion_request(request) -> bool:
    """Whether the request came in on an onion address (the configured one, when set)."""
    host = request.get_host().rsplit(":", 1)[0].lower().rstrip(".")
    configured = onion_host()
    return host == configured if configured else host.endswith(".onion")


def onion_url(request) -> str:
    # Onion services are reached over plain HTTP: Tor already encrypts and authenticates
    # the connection end to end, and the address is the key.
    return f"http://{onion_host()}{request.get_full_path()}"


class OnionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not (request.path == TIPS_PREFIX.rstrip("/") or request.path.startswith(TIPS_PREFIX)):
            return self.get_response(request)
        on_onion = is_onion_request(request)
        if onion_only() and not on_onion and not request.path.startswith(_staff_prefixes()):
            response = self._warning(request)
        else:
            response = self.get_response(request)
        if onion_host() and not on_onion:
            response.headers["Onion-Location"] = onion_url(request)
        return response

    def _warning(self, request):
        host = onion_host()
        response = render(
            request,
            "tips/onion_only.html",
            {"onion_host": host, "onion_url": onion_url(request) if host else ""},
            status=403,
        )
        response.headers["Cache-Control"] = "no-store"
        return response
