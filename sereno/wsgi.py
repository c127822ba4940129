"""The WSGI application: Django's, with a lean path for gateway webhooks.

Requests under /hooks/ (Kannel, Twilio, WhatsApp, Telegram, SMSSync: machines, hundreds of
requests a second at peak) go through a second Django handler built with only the middleware
they need: SecurityMiddleware (the same HTTPS redirect and HSTS as every page) and
BodyLimitMiddleware (a body too large is refused before it is read). Sessions, CSRF,
language, sign-in, OTP, messages, compression, static files and browser headers do nothing
for a gateway; skipping them saves about a quarter of the web worker's time per webhook
(docs/benchmarks.md). URLs, views, error handling and logging are Django's, unchanged.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sereno.settings")

HOOKS_PREFIX = "/hooks/"
HOOKS_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "sereno.lib.middleware.BodyLimitMiddleware",
]


def _hooks_application():
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    class HooksHandler(WSGIHandler):
        def get_response(self, request):
            response = super().get_response(request)
            # As CommonMiddleware does for pages: with a length, the answer is not chunked,
            # and a gateway's HTTP client keeps its connection open for the next request.
            if not response.streaming and not response.has_header("Content-Length"):
                response.headers["Content-Length"] = str(len(response.content))
            return response

        def load_middleware(self, is_async=False):
            # Built once, at import, before any request thread runs.
            full = settings.MIDDLEWARE
            settings.MIDDLEWARE = HOOKS_MIDDLEWARE
            try:
                super().load_middleware(is_async)
            finally:
                settings.MIDDLEWARE = full

    return HooksHandler()


def _dispatch(pages, hooks):
    def application(environ, start_response):
        if environ.get("PATH_INFO", "").startswith(HOOKS_PREFIX):
            return hooks(environ, start_response)
        return pages(environ, start_response)

    return application


_pages = get_wsgi_application()
application = _dispatch(_pages, _hooks_application())
