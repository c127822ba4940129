"""Nothing readable at rest, no client address anywhere: a real server writing to real files."""

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.accounts.helpers import cache_dump
from tests.tips.conftest import MARKER, all_table_text, submit

CLIENT_IP = "203.0.113.77"
FILE_MARKER = b"EVIDENCIA-SECRETA-5512 " * 2000  # ~46 KB, several stream records
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_database_and_storage_hold_no_plaintext(client, channel, recipient, settings, caplog):
    caplog.set_level(logging.DEBUG)
    evidence = SimpleUploadedFile("nota-ZORRO.txt", FILE_MARKER, "text/plain")
    response = submit(
        client, channel, files=[evidence], notify="1", contact="fuente-ZORRO@example.org",
        meta={"REMOTE_ADDR": CLIENT_IP, "HTTP_X_FORWARDED_FOR": f"{CLIENT_IP}, 10.0.0.1"},
    )  # fmt: skip
    assert response.status_code == 201
    dump = all_table_text()
    for needle in (MARKER, "EVIDENCIA-SECRETA", "ZORRO", "nota-", CLIENT_IP, "fuente-"):
        assert needle not in dump, needle
    for path in Path(settings.MEDIA_DIR).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"EVIDENCIA-SECRETA" not in data and MARKER.encode() not in data
    # Only encrypted files stay: the plaintext temporary copies are gone.
    leftovers = [p for p in (Path(settings.MEDIA_DIR) / "tips" / "tmp").rglob("*") if p.is_file()]
    assert leftovers == []
    assert CLIENT_IP not in caplog.text and MARKER not in caplog.text
    cache = repr(cache_dump())  # the cache server too (Redis, or the cache table)
    assert CLIENT_IP not in cache and MARKER not in cache


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            .encode()
        )  # fmt: skip
    for name, (filename, data) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: text/plain\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@pytest.mark.django_db
def test_on_disk_sqlite_wal_logs_and_storage_hold_no_plaintext_or_address(tmp_path):
    """The embedded default exactly as deployed: gunicorn, SQLite in WAL mode on disk, the
    access log on. After a tip with a marker and a file, sent with a forwarded client address,
    no byte of either is in the data folder (database, -wal, queue, media) or the logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERENO_")}
    env.update(
        SERENO_DATA_DIR=str(tmp_path / "data"), SERENO_TIPS_ARGON2_MEM=str(8 * 1024 * 1024),
        SERENO_TIPS_ARGON2_OPS="1", SERENO_LOG_LEVEL="DEBUG",
    )  # fmt: skip
    sereno = [sys.executable, "-m", "sereno"]
    subprocess.run([*sereno, "migrate"], env=env, check=True, capture_output=True, cwd=ROOT)
    setup = (
        "from sereno.tips.models import Channel, Question; "
        "c = Channel.objects.create(slug='c', name='C'); "
        "Question.objects.create(channel=c, kind='text', label='Q', required=True)"
    )
    subprocess.run(
        [*sereno, "manage", "shell", "-c", setup], env=env, check=True, capture_output=True,
        cwd=ROOT,
    )  # fmt: skip
    port = _free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(  # noqa: S603
            [*sereno, "serve", "--port", str(port), "--workers", "1", "--threads", "2"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                form = urllib.request.urlopen(f"{base}/tips/c/", timeout=5).read().decode()  # noqa: S310
                break
            except OSError:
                time.sleep(0.1)
        token = form.split('name="token" value="')[1].split('"')[0]
        qid = form.split('name="q')[1].split('"')[0]
        body, ctype = _multipart(
            {"token": token, f"q{qid}": MARKER}, {"files": ("nota.txt", FILE_MARKER)}
        )
        request = urllib.request.Request(  # noqa: S310
            f"{base}/tips/c/", data=body, method="POST",
            headers={"Content-Type": ctype, "X-Forwarded-For": CLIENT_IP,
                     "X-Real-IP": CLIENT_IP, "Forwarded": f"for={CLIENT_IP}"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            assert response.status == 201
            assert "recibo" in response.read().decode().lower()
    finally:
        server.terminate()
        server.wait(timeout=20)

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert "sereno.sqlite3" in names
    assert any(p.suffix == ".log" for p in files)
    for path in files:
        data = path.read_bytes()
        for needle in (MARKER.encode(), b"EVIDENCIA-SECRETA", CLIENT_IP.encode()):
            assert needle not in data, f"{needle!r} found in {path.name}"
    assert "POST /tips/c/" in log_path.read_text()  # the access log was on


@pytest.mark.django_db
def test_large_uploads_are_buffered_privately_and_overwritten(client, channel, settings):
    from sereno.tips import crypto

    settings.MAX_UPLOAD_BYTES = 8 * 1024 * 1024
    seen = []
    real = crypto.encrypt_file

    def spy(src, dst, *, key):
        seen.append(Path(src.name))
        return real(src, dst, key=key)

    big = SimpleUploadedFile("big.bin", FILE_MARKER * 70, "application/octet-stream")  # 3 MB
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(crypto, "encrypt_file", spy)
        assert submit(client, channel, files=[big]).status_code == 201
    tips_tmp = Path(settings.MEDIA_DIR) / "tips" / "tmp"
    # Django's buffer for a large upload was our private file, not the system temp folder.
    assert seen and seen[0].parent == tips_tmp and seen[0].name.endswith(".upload")
    assert not seen[0].exists()
    assert [p for p in tips_tmp.rglob("*") if p.is_file()] == []
