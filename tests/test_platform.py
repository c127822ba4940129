"""The runtime itself: the configured database and queue are really used, settings are safe."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from sereno.lib import i18n

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("SERENO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_database_is_the_configured_one():
    url = os.environ.get("SERENO_DATABASE_URL", "")
    if url.startswith("postgres"):
        assert connection.vendor == "postgresql"
    else:
        assert connection.vendor == "sqlite"
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            mode = cursor.fetchone()[0]
        # The in-memory test database cannot use WAL; the embedded default on disk does.
        assert mode in ("wal", "memory")


def test_embedded_default_uses_wal_on_disk(tmp_path):
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='sereno.settings'; "
        "django.setup(); from django.db import connection; c=connection.cursor(); "
        "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERENO_")}
    env["SERENO_DATA_DIR"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "wal"
    secret = (tmp_path / "keys" / "secret_key").stat()
    assert oct(secret.st_mode & 0o777) == "0o600"


def test_safe_defaults():
    assert settings.TIME_ZONE == os.environ.get("SERENO_TIME_ZONE", "America/Tegucigalpa")
    assert settings.LANGUAGE_CODE == "es"
    assert settings.DEBUG is False
    assert settings.SECURE_REFERRER_POLICY == "no-referrer"


def test_queue_backend_matches_configuration():
    from huey import RedisHuey, SqliteHuey

    expected = RedisHuey if os.environ.get("SERENO_REDIS_URL") else SqliteHuey
    assert settings.HUEY["huey_class"].endswith(expected.__name__)


def _real_queue():
    """A Huey instance of the configured kind, not in immediate mode."""
    from huey import RedisHuey, SqliteHuey

    if os.environ.get("SERENO_REDIS_URL"):
        return RedisHuey("sereno-test", url=os.environ["SERENO_REDIS_URL"])
    return SqliteHuey("sereno-test", filename=str(settings.DATA_DIR / "queue-test.sqlite3"))


def test_queue_round_trip_through_the_real_backend():
    queue = _real_queue()
    queue.flush()

    @queue.task()
    def add(a, b):
        return a + b

    result = add(2, 3)
    assert queue.pending_count() == 1
    task = queue.dequeue()
    queue.execute(task)
    assert result.get() == 5
    queue.flush()


def test_redis_is_reachable_for_limits_and_queue():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    client.set("sereno-test", "1", ex=5)
    assert client.get("sereno-test") == b"1"


def test_cache_is_shared_across_processes():
    from django.core.cache import caches

    backend = type(caches["default"]).__name__
    assert backend in ("RedisCache", "DatabaseCache")  # never per-process memory


def test_spanish_catalogue_complete():
    assert i18n.missing("es") == []


def test_every_source_string_has_spanish(tmp_path, settings):
    """Extract the messages from a copy of the code the way makemessages does: every one must
    already have its Spanish text in the shipped catalogue (no string slips through untranslated).
    """
    import shutil

    if not shutil.which("xgettext"):
        pytest.skip("GNU gettext (xgettext) is not installed")
    from django.core.management import call_command

    source = Path(i18n.__file__).resolve().parents[1]
    copy = tmp_path / "sereno"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("*.mo", "__pycache__"))
    settings.LOCALE_PATHS = [copy / "locale"]
    cwd = os.getcwd()
    os.chdir(copy)
    try:
        ignore = ["*vendor*", "node_modules*"]  # third-party files carry no strings of ours
        call_command("makemessages", locale=["es"], ignore_patterns=ignore, verbosity=0)
        call_command("makemessages", locale=["es"], domain="djangojs", ignore_patterns=ignore,
                     verbosity=0)  # fmt: skip
    finally:
        os.chdir(cwd)
    assert i18n.missing("es", root=copy) == []


def test_security_headers(client):
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_staff_pages_send_no_referrer_elsewhere_but_keep_csrf_working(client):
    """Under "no-referrer" browsers post forms with "Origin: null" and the CSRF check refuses
    the sign-in; staff pages use "same-origin" (nothing is sent to any other site)."""
    login_page = client.get("/accounts/login/")
    assert login_page["Referrer-Policy"] == "same-origin"
    assert login_page["Cache-Control"] == "no-store"
    assert client.get("/api/v1/reports")["Referrer-Policy"] == "no-referrer"


def test_home_page_in_both_languages(client):
    assert "Informes publicados" in client.get("/", headers={"Accept-Language": "es"}).text
    assert "Published reports" in client.get("/", headers={"Accept-Language": "en"}).text
