"""The WSGI application gunicorn serves (sereno.wsgi): webhooks take the lean path, pages
the full one. Driven through the WSGI interface itself, as gunicorn calls it (the test client
builds its own handler and would not see the difference)."""

import base64
import io
from wsgiref.util import setup_testing_defaults

import pytest

from sereno.messaging.models import Channel, InboundMessage
from sereno.wsgi import application

SECRET = "s3cret-Kannel-shared"

# Transactional: the handler closes the connection at the end of each request, as in gunicorn.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def channel():
    channel = Channel(kind="kannel", name="Kannel", address="1234", enabled=True)
    channel.set_config({
        "sendsms_url": "http://127.0.0.1:13013/cgi-bin/sendsms", "username": "sereno",
        "password": "pw", "secret": SECRET, "callback_url": "http://127.0.0.1:8000/",
    })  # fmt: skip
    channel.save()
    return channel


def call(path, *, method="GET", query="", body=b"", headers=None, length=None):
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
        "CONTENT_TYPE": "text/plain; charset=UTF-8",
        "CONTENT_LENGTH": str(len(body) if length is None else length),
        "wsgi.input": io.BytesIO(body), "SERVER_NAME": "localhost", "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
    }  # fmt: skip
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = {k.lower(): v for k, v in response_headers}

    chunks = application(environ, start_response)
    try:
        answer["body"] = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return answer


def kannel_post(channel, text, *, secret=SECRET, kannel_id="k1", length=None):
    auth = "Basic " + base64.b64encode(f"kannel:{secret}".encode()).decode()
    return call(
        f"/hooks/kannel/{channel.uuid}/", method="POST", query=f"id={kannel_id}",
        body=text.encode(), length=length,
        headers={"Authorization": auth, "X-Kannel-From": "+50499887766", "X-Kannel-To": "1234"},
    )  # fmt: skip


def test_a_webhook_is_stored_through_the_lean_path(channel):
    answer = kannel_post(channel, "Hubo una balacera, ¿qué hacemos?")
    assert answer["status"] == 200 and answer["body"] == b""
    # A length, so that the server does not chunk the answer and smsbox keeps its connection.
    assert answer["headers"]["content-length"] == "0"
    assert InboundMessage.objects.get().text == "Hubo una balacera, ¿qué hacemos?"
    # No session, CSRF or language middleware ran: nothing a browser would get.
    assert "set-cookie" not in answer["headers"]
    assert "vary" not in answer["headers"]
    assert "content-security-policy" not in answer["headers"]


def test_the_lean_path_still_authenticates_and_limits_the_body(channel, settings):
    assert kannel_post(channel, "hola", secret="wrong")["status"] == 403
    settings.MAX_REQUEST_BYTES = 1024
    too_large = kannel_post(channel, "hola", kannel_id="k2", length=10_000_000)
    assert too_large["status"] == 413
    assert too_large["headers"]["content-length"] == str(len(too_large["body"]))
    assert not InboundMessage.objects.exists()
    assert call("/hooks/kannel/00000000-0000-0000-0000-000000000000/")["status"] == 404


def test_pages_keep_the_whole_middleware(channel):
    answer = call("/")
    assert answer["status"] == 200
    assert "content-security-policy" in answer["headers"]  # SafetyHeadersMiddleware
    assert "Accept-Language" in answer["headers"].get("vary", "")  # LocaleMiddleware
