"""Bad input and intake guarantees: 413 before the body, nothing half-stored, constant memory,
the cleaning hook, and the opt-in contact channel."""

import hashlib
import io
import socket
import tracemalloc
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from sereno.tips import crypto, services
from sereno.tips.models import Tip, TipFile
from tests.tips.conftest import form_token, question_ids, receipt_from, submit


def test_oversized_upload_gets_413_before_the_body_is_sent(live_server, channel, settings):
    host, port = live_server.thread.host, live_server.thread.port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            (
                f"POST /tips/{channel.slug}/ HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\n"
                f"Content-Length: {settings.MAX_REQUEST_BYTES + 1}\r\n\r\n"
            ).encode()
        )  # headers only: not one byte of the body is sent
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413")
    assert Tip.objects.count() == 0


@pytest.mark.django_db
def test_a_failure_mid_request_stores_nothing(client, channel, recipient, settings, monkeypatch):
    real = crypto.encrypt_file
    calls = []

    def disk_full_on_third(src, dst, *, key):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(src, dst, key=key)

    monkeypatch.setattr(crypto, "encrypt_file", disk_full_on_third)
    files = [SimpleUploadedFile(f"{i}.bin", bytes([i]) * 1000) for i in range(3)]
    with pytest.raises(OSError):
        submit(client, channel, files=files)
    assert Tip.objects.count() == 0 and TipFile.objects.count() == 0
    left = [p for p in (Path(settings.MEDIA_DIR) / "tips").rglob("*") if p.is_file()]
    assert left == []


@pytest.mark.django_db
def test_too_many_files_are_refused_before_anything_is_stored(client, channel, settings):
    settings.TIPS_MAX_FILES = 1
    files = [SimpleUploadedFile(f"{i}.txt", b"x") for i in range(2)]
    response = submit(client, channel, files=files)
    assert response.status_code == 422 and "Demasiados archivos." in response.content.decode()
    assert Tip.objects.count() == 0


@pytest.mark.django_db
def test_files_are_encrypted_in_constant_memory(tmp_path):
    size = 24 * 1024 * 1024
    src = tmp_path / "big"
    with open(src, "wb") as out:
        for _ in range(size // (1024 * 1024)):
            out.write(b"\x5a" * (1024 * 1024))
    key = crypto.new_file_key()
    tracemalloc.start()
    with open(src, "rb") as handle:
        digest, length = crypto.encrypt_file(handle, tmp_path / "enc", key=key)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert length == size and peak < 1024 * 1024  # 24 MB through less than 1 MB of memory
    assert digest == hashlib.sha256(src.read_bytes()).hexdigest()
    out = hashlib.sha256()
    for chunk in crypto.decrypt_file(tmp_path / "enc", key=key):
        out.update(chunk)
    assert out.hexdigest() == digest
    with pytest.raises(crypto.DecryptionError):
        list(crypto.decrypt_file(tmp_path / "enc", key=crypto.new_file_key()))


@pytest.mark.django_db
def test_every_file_has_a_cleaning_status_and_the_original_hash(client, channel, recipient_client):
    """Valid with or without the cleaning module: a status recipients can read, the SHA-256
    of the original as received, and a clean copy only when the status says cleaned."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, "JPEG")
    photo = buffer.getvalue()
    upload = SimpleUploadedFile("foto.jpg", photo, "image/jpeg")
    submit(client, channel, files=[upload])
    tip = Tip.objects.get()
    tip_file = TipFile.objects.get()
    assert tip_file.status in {"cleaned", "not_cleanable", "rejected"}
    html = recipient_client.get(f"/tips/inbox/{tip.pk}/").content.decode()
    assert hashlib.sha256(photo).hexdigest() in html
    labels = {
        "cleaned": 'status-cleaned">limpi',
        "not_cleanable": 'status-not_cleanable">no se pudo limpiar — ábralo con cuidado',
        "rejected": 'status-rejected">rechazad',
    }
    assert labels[tip_file.status] in html
    original = recipient_client.get(f"/tips/inbox/{tip.pk}/files/{tip_file.pk}/original/")
    assert b"".join(original.streaming_content) == photo
    clean = recipient_client.get(f"/tips/inbox/{tip.pk}/files/{tip_file.pk}/clean/")
    if tip_file.status == "cleaned":
        assert clean.status_code == 200 and b"".join(clean.streaming_content)
    else:
        assert clean.status_code == 404


@pytest.mark.django_db
def test_contact_channel_is_off_by_default(client, channel, recipient):
    submit(client, channel, contact="yo@example.org")  # typed, but the box not ticked
    assert Tip.objects.get().contact_sealed is None


@pytest.mark.django_db
def test_source_who_opts_in_is_notified_without_content(
    client, channel, recipient_client, settings
):
    settings.TIPS_NOTIFICATIONS = True
    submit(client, channel, notify="1", contact="fuente@example.org")
    tip = Tip.objects.get()
    assert b"fuente@example.org" not in bytes(tip.contact_sealed)
    page = recipient_client.get(f"/tips/inbox/{tip.pk}/").content.decode()
    assert "fuente@example.org" not in page and "pidió que se le avise" in page
    with pytest.MonkeyPatch.context():
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            recipient_client.post(f"/tips/inbox/{tip.pk}/reply/", {"text": "Respuesta SECRETA"})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["fuente@example.org"]
    assert "SECRETA" not in mail.outbox[0].body and "recibo" in mail.outbox[0].body


@pytest.mark.django_db
def test_choice_answers_must_be_one_of_the_options(client, channel):
    ids = question_ids(channel)
    token = form_token(client, f"/tips/{channel.slug}/")
    data = {"token": token, f"q{ids['text']}": "algo", f"q{ids['choice']}": "Otra cosa"}
    response = client.post(f"/tips/{channel.slug}/", data)
    assert response.status_code == 422 and "Elija una de las opciones." in response.content.decode()


@pytest.mark.django_db
def test_receipt_open_takes_the_same_time_for_unknown_and_known_receipts(client, channel, settings):
    import time

    settings.TIPS_ARGON2_MEM = 64 * 1024 * 1024
    settings.TIPS_ARGON2_OPS = 2
    receipt = receipt_from(submit(client, channel))
    unknown = "zorro " * 8

    def timed(text):
        start = time.perf_counter()
        try:
            services.tip_open(receipt=text)
        except services.NotFound:
            pass
        return time.perf_counter() - start

    known_times, unknown_times = [], []
    for _ in range(7):  # interleaved, so a busy moment on the machine hits both alike
        known_times.append(timed(receipt))
        unknown_times.append(timed(unknown))
    ratio = sorted(unknown_times)[3] / sorted(known_times)[3]  # medians
    assert 0.7 < ratio < 1.43, (known_times, unknown_times)


@pytest.mark.django_db
def test_a_file_over_the_limit_gets_413_and_nothing_is_stored(client, channel, settings):
    settings.TIPS_MAX_FILE_BYTES = 1024 * 1024
    big = SimpleUploadedFile("grande.bin", b"\x01" * (3 * 1024 * 1024))
    response = submit(client, channel, files=[big])
    assert response.status_code == 413
    assert "más grande que 1 MB" in response.content.decode()
    assert Tip.objects.count() == 0
    assert [p for p in (Path(settings.MEDIA_DIR) / "tips").rglob("*") if p.is_file()] == []


@pytest.mark.django_db
def test_dates_must_be_real_and_not_in_the_future(client, channel):
    ids = question_ids(channel)
    cases = (("mañana", "año-mes-día"), ("2999-01-01", "no puede estar en el futuro"))
    for value, message in cases:
        token = form_token(client, f"/tips/{channel.slug}/")
        data = {"token": token, f"q{ids['text']}": "algo", f"q{ids['date']}": value}
        response = client.post(f"/tips/{channel.slug}/", data)
        assert response.status_code == 422 and message in response.content.decode()


@pytest.mark.django_db
def test_a_cleaner_crash_keeps_the_file_marked_and_logs_no_name(
    client, channel, monkeypatch, caplog
):
    import logging

    from sereno.tips import services

    def crash(src_path, *, filename, content_type, dst_dir):
        raise ValueError(f"cannot parse {filename}")

    monkeypatch.setattr(services, "clean_file", crash)
    caplog.set_level(logging.DEBUG)
    upload = SimpleUploadedFile("nombre-secreto.pdf", b"%PDF-1.4 ...", "application/pdf")
    assert submit(client, channel, files=[upload]).status_code == 201
    assert TipFile.objects.get().status == "not_cleanable"
    assert "nombre-secreto" not in caplog.text and "ValueError" in caplog.text
