"""Media intake: nothing identifying (GPS, XMP, text) survives cleaning; originals stay sealed."""

import hashlib
import io
import itertools
import resource
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.test import RequestFactory
from django.utils import timezone
from PIL import Image, ImageCms, ImageOps, PngImagePlugin

from sereno.lib.crypto import DecryptionError, decrypt_stream, encrypt_stream
from sereno.lib.errors import InvalidInput, NotFound
from sereno.reports.media import (
    MAX_SIDE,
    clean_media,
    iter_original,
    open_cleaned,
    sanitize_name,
    sniff_type,
    store_original,
)
from sereno.reports.media_views import public_media
from sereno.reports.models import Media, Report, Status
from sereno.reports.tasks import enqueue_media_cleaning

pytestmark = pytest.mark.django_db

GPS_MARKER = "GPS-DATUM-SECRET-7731"
XMP_MARKER = b"XMP-SECRET-LOCATION-5521"
TEXT_MARKER = "PNG-TEXT-SECRET-9910"
COMMENT_MARKER = b"COMMENT-SECRET-4242"
# 14 deg 4' 48" N (14.08) as EXIF rationals, in either byte order.
GPS_RATIONALS = (struct.pack("<6I", 14, 1, 4, 1, 48, 1), struct.pack(">6I", 14, 1, 4, 1, 48, 1))
XMP_PACKET = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="14,4.8N">'
    + XMP_MARKER
    + b"</rdf:Description></rdf:RDF></x:xmpmeta>"
)
_references = itertools.count(1)


# --- builders ------------------------------------------------------------------------------------


def make_report(status=Status.RECEIVED) -> Report:
    now = timezone.now()
    return Report.objects.create(
        reference=f"MED-{next(_references):04d}",
        title="Asalto",
        description="Foto del lugar.",
        occurred_at=now,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
        status=status,
    )


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (14.0, 4.0, 48.0)
    gps[3] = "W"
    gps[4] = (87.0, 12.0, 24.0)
    gps[0x12] = GPS_MARKER
    return exif


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def two_tone(size=(40, 20), mode="RGB") -> Image.Image:
    """Left half red, right half blue: shows where the image's left side ends up."""
    image = Image.new(mode, size, "blue")
    image.paste("red", (0, 0, size[0] // 2, size[1]))
    return image


def gps_jpeg(size=(40, 20), orientation=None) -> bytes:
    buffer = io.BytesIO()
    two_tone(size).save(
        buffer,
        "JPEG",
        exif=gps_exif(orientation),
        xmp=XMP_PACKET,
        comment=COMMENT_MARKER,
        icc_profile=srgb_profile(),
    )
    return buffer.getvalue()


def gps_png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", TEXT_MARKER)
    info.add_text("Location", TEXT_MARKER, zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP_PACKET.decode())
    buffer = io.BytesIO()
    two_tone(mode="RGBA").save(
        buffer, "PNG", pnginfo=info, exif=gps_exif(), icc_profile=srgb_profile()
    )
    return buffer.getvalue()


def gps_webp() -> bytes:
    buffer = io.BytesIO()
    two_tone(mode="RGBA").save(buffer, "WEBP", exif=gps_exif(), xmp=XMP_PACKET)
    return buffer.getvalue()


def commented_gif() -> bytes:
    buffer = io.BytesIO()
    frames = [two_tone().convert("P"), Image.new("P", (40, 20))]
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], comment=COMMENT_MARKER)
    return buffer.getvalue()


def noisy_jpeg(size=(300, 300)) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise(size, 80).convert("RGB").save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image: a decompression bomb's calling card."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 4096, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def upload(data: bytes, name="photo.jpg", content_type="image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored(data: bytes, **kwargs) -> Media:
    return store_original(report=make_report(), upload=upload(data, **kwargs))


def png_chunks(data: bytes) -> list[bytes]:
    kinds, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kinds.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return kinds


def assert_no_metadata(path: Path) -> None:
    raw = path.read_bytes()
    for marker in (GPS_MARKER.encode(), XMP_MARKER, TEXT_MARKER.encode(), COMMENT_MARKER):
        assert marker not in raw
    for rationals in GPS_RATIONALS:
        assert rationals not in raw
    for marker in (
        b"Exif\x00\x00",
        b"http://ns.adobe.com/xap/1.0/",
        b"ICC_PROFILE",
        b"CameraMaker",
    ):
        assert marker not in raw
    with Image.open(path) as image:
        assert len(image.getexif()) == 0
        assert not image.getexif().get_ifd(0x8825)
        for key in ("exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "Comment"):
            assert key not in image.info
        if image.format == "PNG":
            assert image.text == {}
            kinds = png_chunks(raw)
            for kind in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"):
                assert kind not in kinds


# --- crypto --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 3 * 65536 + 5])
def test_encrypt_stream_round_trip(tmp_path, size):
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path = tmp_path / "f.enc"
    digest, length = encrypt_stream(io.BytesIO(data), path, purpose="test")
    assert (digest, length) == (hashlib.sha256(data).hexdigest(), size)
    assert b"".join(decrypt_stream(path, purpose="test")) == data
    assert [p.name for p in tmp_path.iterdir()] == ["f.enc"]


def test_decrypt_stream_detects_tampering_truncation_and_wrong_purpose(tmp_path):
    data = b"evidence " * 30000  # several 64 KiB chunks
    path = tmp_path / "f.enc"
    encrypt_stream(io.BytesIO(data), path, purpose="test")
    sealed = path.read_bytes()
    boundary = 8 + 24 + 2 * (65536 + 17)  # magic, header, two whole records
    flipped = bytearray(sealed)
    flipped[len(sealed) // 2] ^= 0x01
    for damaged in (bytes(flipped), sealed[:-1], sealed[:boundary], sealed + b"\x00", b""):
        path.write_bytes(damaged)
        with pytest.raises(DecryptionError):
            b"".join(decrypt_stream(path, purpose="test"))
    path.write_bytes(sealed)
    with pytest.raises(DecryptionError):
        b"".join(decrypt_stream(path, purpose="other"))


# --- intake --------------------------------------------------------------------------------------


def test_original_is_encrypted_and_decrypts_to_the_uploaded_bytes(settings):
    data = gps_jpeg()
    media = stored(data)
    assert media.state == Media.State.PENDING
    assert media.sha256 == hashlib.sha256(data).hexdigest()
    assert media.size == len(data)
    assert media.content_type == "image/jpeg"
    assert media.original_path.startswith("originals/")
    path = Path(settings.MEDIA_DIR) / media.original_path
    raw = path.read_bytes()
    for marker in (GPS_MARKER.encode(), XMP_MARKER, COMMENT_MARKER, b"Exif", b"JFIF"):
        assert marker in data
        assert marker not in raw
    assert b"".join(iter_original(media)) == data


def test_tampered_original_raises_and_fails_cleaning(settings):
    media = stored(gps_jpeg())
    path = Path(settings.MEDIA_DIR) / media.original_path
    sealed = bytearray(path.read_bytes())
    sealed[-5] ^= 0x80
    path.write_bytes(bytes(sealed))
    with pytest.raises(DecryptionError):
        b"".join(iter_original(media))
    assert clean_media(media.pk).state == Media.State.FAILED


def test_original_swapped_for_another_is_detected():
    first, second = stored(gps_jpeg()), stored(noisy_jpeg())
    first.original_path = second.original_path  # a valid ciphertext, but not this upload
    with pytest.raises(DecryptionError):
        b"".join(iter_original(first))


def test_type_comes_from_the_bytes_not_the_client():
    media = stored(gps_png(), name="photo.jpg", content_type="image/jpeg")
    assert media.content_type == "image/png"
    media = stored(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", content_type="image/jpeg")
    assert media.content_type == "application/pdf"


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "image/avif"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00isommp42", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
        (b"%PDF-1.7", "application/pdf"),
        (b"#!AMR\n", "audio/amr"),
        (b"<html>", "application/octet-stream"),
    ],
)
def test_sniff_type(head, mime):
    assert sniff_type(head) == mime


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("..\\..\\Windows\\win.ini", "win.ini"),
        ("/var/www/.htaccess", "htaccess"),
        ("foto\x00\x1b[31m\u202egpj.exe", "foto[31mgpj.exe"),
        ("línea\u2028nueva.jpg", "líneanueva.jpg"),
        ("..", "upload"),
        ("", "upload"),
        (None, "upload"),
    ],
)
def test_sanitize_name(name, expected):
    assert sanitize_name(name) == expected


def test_sanitize_name_keeps_the_extension_within_120_characters():
    name = sanitize_name("a" * 300 + ".jpeg")
    assert len(name) == 120
    assert name.endswith(".jpeg")
    assert len(sanitize_name("b" * 300)) == 120


def test_path_traversal_name_is_only_a_label(settings):
    media = stored(gps_jpeg(), name="../../etc/passwd.jpg")
    assert media.original_name == "passwd.jpg"
    root = Path(settings.MEDIA_DIR).resolve()
    assert (root / media.original_path).resolve().parent == root / "originals"
    assert "passwd" not in media.original_path


def _stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_DIR)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_oversize_upload_is_refused_and_nothing_is_stored(settings):
    settings.MAX_UPLOAD_BYTES = 1000
    with pytest.raises(InvalidInput) as caught:
        stored(b"\xff\xd8\xff" + b"\x00" * 2000)
    assert caught.value.field == "file"
    assert "1000" in caught.value.message  # "1000 bytes", in the active language
    assert Media.objects.count() == 0
    assert _stored_files(settings) == []


class LyingUpload:
    """Declares a small size but streams more: the limit holds while reading."""

    name = "small.jpg"
    content_type = "image/jpeg"
    size = 10

    def chunks(self, chunk_size=None):
        yield b"\xff\xd8\xff" + b"\x00" * 997
        yield b"\x00" * 1000


def test_upload_larger_than_declared_is_refused_midway(settings):
    settings.MAX_UPLOAD_BYTES = 1500
    with pytest.raises(InvalidInput):
        store_original(report=make_report(), upload=LyingUpload())
    assert Media.objects.count() == 0
    assert _stored_files(settings) == []


def test_empty_upload_is_refused(settings):
    with pytest.raises(InvalidInput):
        stored(b"")
    assert _stored_files(settings) == []


# --- cleaning ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "cleaned_type", "suffix"),
    [
        (gps_jpeg, "image/jpeg", ".jpg"),
        (gps_webp, "image/jpeg", ".jpg"),
        (gps_png, "image/png", ".png"),
        (commented_gif, "image/png", ".png"),
    ],
)
def test_cleaning_strips_every_metadata(settings, build, cleaned_type, suffix):
    data = build()
    media = clean_media(stored(data).pk)
    assert media.state == Media.State.CLEAN
    assert media.cleaned_type == cleaned_type
    assert media.cleaned_path.startswith("cleaned/") and media.cleaned_path.endswith(suffix)
    assert (media.width, media.height) == (40, 20)
    path = open_cleaned(media)
    assert path == (Path(settings.MEDIA_DIR) / media.cleaned_path).resolve()
    assert_no_metadata(path)
    with Image.open(path) as image:
        assert image.size == (40, 20)
        assert image.convert("RGB").getpixel((5, 10))[0] > 200  # still red on the left


def test_the_test_images_do_carry_the_metadata():
    """Guards the test above: its markers must be there to be removed."""
    jpeg, png, webp = gps_jpeg(), gps_png(), gps_webp()
    assert XMP_MARKER in jpeg and GPS_MARKER.encode() in jpeg and COMMENT_MARKER in jpeg
    assert any(r in jpeg for r in GPS_RATIONALS)
    assert TEXT_MARKER.encode() in png and XMP_MARKER in png
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"} <= set(png_chunks(png))
    assert XMP_MARKER in webp and GPS_MARKER.encode() in webp
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.getexif().get_ifd(0x8825)[2] == (14.0, 4.0, 48.0)


def test_orientation_is_applied_before_the_metadata_goes():
    data = gps_jpeg(size=(40, 20), orientation=6)
    media = clean_media(stored(data).pk)
    assert (media.width, media.height) == (20, 40)
    with Image.open(io.BytesIO(data)) as original:
        expected = ImageOps.exif_transpose(original)
    with Image.open(open_cleaned(media)) as cleaned:
        assert cleaned.size == expected.size
        for xy in ((10, 5), (10, 35)):
            got, want = cleaned.convert("RGB").getpixel(xy), expected.getpixel(xy)
            assert all(abs(a - b) < 40 for a, b in zip(got, want, strict=True))
        assert cleaned.getpixel((10, 5)) != cleaned.getpixel((10, 35))


def test_large_photos_are_downscaled():
    media = clean_media(stored(noisy_jpeg(size=(3000, 1000))).pk)
    assert media.state == Media.State.CLEAN
    assert (media.width, media.height) == (MAX_SIDE, 683)


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [20000, 7000])  # refused by Pillow, refused by us
def test_decompression_bomb_fails_without_decoding(side):
    before = _max_rss_mb()
    media = clean_media(stored(png_declaring(side, side), name="bomb.png").pk)
    assert media.state == Media.State.FAILED
    assert media.cleaned_path == ""
    assert _max_rss_mb() - before < 100  # decoding 20000x20000 would take 400 MB


def test_truncated_jpeg_fails():
    data = noisy_jpeg()
    media = clean_media(stored(data[: len(data) * 6 // 10]).pk)
    assert media.state == Media.State.FAILED


def test_corrupt_image_fails():
    media = clean_media(stored(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20).pk)
    assert media.state == Media.State.FAILED


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00isommp42" + b"\x00" * 64,
        b"just some text",
    ],
)
def test_non_images_are_unsupported(data):
    media = clean_media(stored(data, name="doc.jpg").pk)
    assert media.state == Media.State.UNSUPPORTED
    assert media.cleaned_path == ""
    with pytest.raises(NotFound):
        open_cleaned(media)


def test_cleaning_is_idempotent(settings):
    media = clean_media(stored(gps_jpeg()).pk)
    again = clean_media(media.pk)
    assert again.cleaned_path == media.cleaned_path
    assert len(list((Path(settings.MEDIA_DIR) / "cleaned").iterdir())) == 1

    failed = clean_media(stored(b"\xff\xd8\xff broken").pk)
    assert failed.state == Media.State.FAILED
    assert clean_media(failed.pk).state == Media.State.FAILED


def test_enqueue_cleans_after_commit(django_capture_on_commit_callbacks):
    media = stored(gps_jpeg())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        enqueue_media_cleaning([media.pk])
    media.refresh_from_db()
    assert media.state == Media.State.PENDING  # nothing runs before the commit
    for callback in callbacks:
        callback()
    media.refresh_from_db()
    assert media.state == Media.State.CLEAN


# --- public view ---------------------------------------------------------------------------------


def _get(media_id, method="get"):
    return public_media(getattr(RequestFactory(), method)(f"/media/{media_id}"), media_id)


def _published_media(data: bytes, name="photo.jpg") -> Media:
    report = make_report(status=Status.PUBLISHED)
    media = store_original(report=report, upload=upload(data, name=name))
    return clean_media(media.pk)


def test_public_media_serves_the_cleaned_derivative():
    media = _published_media(gps_jpeg(), name="Juan Perez en Colonia X.jpg")
    response = _get(media.pk)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "public, max-age=3600"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == f'inline; filename="sereno-{media.pk}.jpg"'
    body = b"".join(response.streaming_content)
    response.close()
    assert body == open_cleaned(media).read_bytes()
    assert GPS_MARKER.encode() not in body and XMP_MARKER not in body


@pytest.mark.parametrize(
    "status", [Status.RECEIVED, Status.VERIFIED, Status.REJECTED, Status.ARCHIVED]
)
def test_public_media_404_unless_published(status):
    media = _published_media(gps_jpeg())
    Report.objects.filter(pk=media.report_id).update(status=status)
    with pytest.raises(Http404):
        _get(media.pk)


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\n%%EOF\n", b"\xff\xd8\xff broken", None],
    ids=["unsupported", "failed", "pending"],
)
def test_public_media_404_unless_clean(data):
    report = make_report(status=Status.PUBLISHED)
    media = store_original(report=report, upload=upload(data or gps_jpeg()))
    if data is not None:
        clean_media(media.pk)
    with pytest.raises(Http404):
        _get(media.pk)


def test_public_media_404_for_unknown_or_missing_files(settings):
    with pytest.raises(Http404):
        _get(999999)
    media = _published_media(gps_jpeg())
    open_cleaned(media).unlink()
    with pytest.raises(Http404):
        _get(media.pk)


def test_public_media_only_reads():
    media = _published_media(gps_jpeg())
    assert _get(media.pk, method="post").status_code == 405
