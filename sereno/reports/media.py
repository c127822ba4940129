"""Media intake: originals encrypted at rest, shareable derivatives re-encoded without metadata.

A photo's EXIF GPS tag can get a reporter killed. Nothing from an upload reaches the public
except its pixels, decoded and re-encoded into a fresh image; everything else stays sealed.
"""

import hashlib
import io
import logging
import os
import secrets
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from sereno.lib.crypto import DecryptionError, decrypt_stream, encrypt_stream
from sereno.lib.errors import InvalidInput, NotFound
from sereno.reports.models import Media

try:  # HEIC (iPhones) only when the optional pillow-heif plugin is installed
    from pillow_heif import register_heif_opener
except ImportError:  # pragma: no cover - depends on the installation
    pass
else:  # pragma: no cover
    register_heif_opener()

log = logging.getLogger(__name__)

PURPOSE = "media-original"
MAX_PIXELS = 40_000_000
MAX_SIDE = 2048
NAME_MAX = 120
JPEG_QUALITY = 85
_SNIFF_BYTES = 64

# Pillow refuses (DecompressionBombError) above twice this and only warns above it; warnings
# are process-wide and not thread-safe to turn into errors, so _decode checks the size itself.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Detected MIME type -> (Pillow decoder, output format). Only these are ever decoded.
_IMAGES = {
    "image/jpeg": ("JPEG", "JPEG"),
    "image/png": ("PNG", "PNG"),
    "image/gif": ("GIF", "PNG"),
    "image/webp": ("WEBP", "JPEG"),
    "image/heic": ("HEIF", "JPEG"),
    "image/avif": ("AVIF", "JPEG"),
}
_OUTPUTS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png")}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


class _Rejected(Exception):
    """A decodable file the cleaner refuses (too many pixels, empty image)."""


# --- intake --------------------------------------------------------------------------------------


def sniff_type(head: bytes) -> str:
    """The MIME type from the first bytes of a file; the client's word is never asked."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    for magic, mime in (
        (b"%PDF-", "application/pdf"),
        (b"\x1a\x45\xdf\xa3", "video/webm"),
        (b"OggS", "audio/ogg"),
        (b"#!AMR", "audio/amr"),
        (b"ID3", "audio/mpeg"),
        (b"PK\x03\x04", "application/zip"),
    ):
        if head.startswith(magic):
            return mime
    return "application/octet-stream"


def _sniff_ftyp(head: bytes) -> str:
    box_end = min(int.from_bytes(head[:4], "big"), len(head))
    brands = {head[8:12]} | {head[i : i + 4] for i in range(16, box_end - 3, 4)}
    if brands & {b"avif", b"avis"}:
        return "image/avif"
    if brands & _HEIF_BRANDS:
        return "image/heic"
    if head[8:12] == b"qt  ":
        return "video/quicktime"
    if head[8:11] in (b"3gp", b"3g2"):
        return "video/3gpp"
    if head[8:12] == b"M4A ":
        return "audio/mp4"
    return "video/mp4"


def sanitize_name(name: str | None) -> str:
    """A display name only (files on disk get random names): basename, no control or
    direction-override characters, no leading dots, at most NAME_MAX characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C" and c not in "\u2028\u2029")
    name = name.strip().lstrip(".").strip()
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = f"{stem[: NAME_MAX - len(ext) - 1].rstrip()}.{ext}"
        else:
            name = name[:NAME_MAX].rstrip()
    return name or "upload"


class _UploadReader:
    """A file-like view of an upload's chunks that enforces the size limit while reading:
    the declared size is only the upload handler's (or the client's) word."""

    def __init__(self, chunks: Iterable[bytes], limit: int):
        self._chunks = iter(chunks)
        self._buffer = bytearray()
        self._limit = limit
        self._total = 0

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                return
            self._total += len(chunk)
            if self._total > self._limit:
                raise InvalidInput(_too_large(self._limit), field="file")
            self._buffer += chunk

    def peek(self, size: int) -> bytes:
        self._fill(size)
        return bytes(self._buffer[:size])

    def read(self, size: int = -1) -> bytes:
        self._fill(size if size >= 0 else self._limit + 1)
        size = len(self._buffer) if size < 0 else size
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


def _too_large(limit: int) -> str:
    return _("The file is too large: the limit is %(limit)s.") % {"limit": filesizeformat(limit)}


def store_original(*, report, upload) -> Media:
    """Encrypt an upload to disk as evidence and record it, pending cleaning.

    The file is written before the row: if the caller's transaction rolls back, an orphan
    encrypted file stays behind (harmless; unreadable without the key)."""
    limit = settings.MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise InvalidInput(_too_large(limit), field="file")
    reader = _UploadReader(upload.chunks(), limit)
    head = reader.peek(_SNIFF_BYTES)
    if not head:
        raise InvalidInput(_("The file is empty."), field="file")
    relative = f"originals/{secrets.token_hex(16)}.enc"
    path = _media_dir() / relative
    sha256, size = encrypt_stream(reader, path, purpose=PURPOSE)
    try:
        return Media.objects.create(
            report=report,
            original_name=sanitize_name(upload.name),
            content_type=sniff_type(head),
            size=size,
            sha256=sha256,
            original_path=relative,
            state=Media.State.PENDING,
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise


# --- reading ---------------------------------------------------------------------------------


def _media_dir() -> Path:
    return Path(settings.MEDIA_DIR)


def _resolve(relative: str) -> Path:
    """The absolute path of a stored file, refusing anything outside MEDIA_DIR."""
    root = _media_dir().resolve()
    path = (root / relative).resolve()
    if not relative or not path.is_relative_to(root):
        raise NotFound(_("This file is not available."))
    return path


def iter_original(media: Media) -> Iterator[bytes]:
    """The original's bytes, decrypted (staff download, chain of custody).

    Raises DecryptionError if the file was altered, truncated, or no longer matches the
    SHA-256 and size recorded at intake; that check completes with the last chunk."""
    digest, size = hashlib.sha256(), 0
    for chunk in decrypt_stream(_resolve(media.original_path), purpose=PURPOSE):
        size += len(chunk)
        if size > media.size:
            raise DecryptionError("the original is larger than recorded at intake")
        digest.update(chunk)
        yield chunk
    if size != media.size or not secrets.compare_digest(digest.hexdigest(), media.sha256):
        raise DecryptionError("the original does not match the SHA-256 recorded at intake")


def open_cleaned(media: Media) -> Path:
    """The path of the shareable derivative; NotFound unless the media was cleaned."""
    if media.state != Media.State.CLEAN or not media.cleaned_path:
        raise NotFound(_("This file is not available."))
    return _resolve(media.cleaned_path)


# --- cleaning --------------------------------------------------------------------------------


def clean_media(media_id: int) -> Media:
    """Re-encode an image without metadata into MEDIA_DIR/cleaned; idempotent.

    Outcome: clean, failed (corrupt, truncated, bomb, altered original) or unsupported (not
    an image we decode: never shown publicly). Files missing on disk raise, leaving the media
    pending for a retry, since that is an operational fault rather than a broken upload."""
    media = Media.objects.get(pk=media_id)
    if media.state != Media.State.PENDING:
        return media
    decoder, output = _IMAGES.get(media.content_type, (None, None))
    Image.init()
    if decoder is None or decoder not in Image.OPEN:
        return _finish(media, state=Media.State.UNSUPPORTED)
    try:
        original = b"".join(iter_original(media))
    except DecryptionError:
        log.error("media %s: the encrypted original failed its integrity check", media.pk)
        return _finish(media, state=Media.State.FAILED)
    try:
        image = _decode(original, decoder)
    except Exception as error:  # untrusted input: any decoder error means a broken file
        log.warning("media %s could not be decoded: %s", media.pk, type(error).__name__)
        return _finish(media, state=Media.State.FAILED)
    del original
    mime, extension = _OUTPUTS[output]
    relative = f"cleaned/{secrets.token_hex(16)}{extension}"
    _write_new(_media_dir() / relative, _encode(image, output))
    return _finish(
        media,
        state=Media.State.CLEAN,
        cleaned_path=relative,
        cleaned_type=mime,
        width=image.width,
        height=image.height,
    )


def _decode(data: bytes, decoder: str) -> Image.Image:
    """Decode the first frame, upright and at most MAX_SIDE, into a fresh image that holds
    pixels only: no EXIF, XMP, IPTC, ICC profile, comments or text chunks."""
    with Image.open(io.BytesIO(data), formats=[decoder]) as source:
        width, height = source.size
        if width < 1 or height < 1 or width * height > MAX_PIXELS:
            raise _Rejected(f"{width}x{height} pixels")
        source.seek(0)
        if decoder == "JPEG":
            source.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode scaled down: less memory
        source.load()
        upright = ImageOps.exif_transpose(source)
    pixels = _flatten(upright)
    pixels.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # convert() and transpose() copy .info (EXIF, ICC, text): paste into a blank image.
    fresh = Image.new(pixels.mode, pixels.size)
    fresh.paste(pixels)
    return fresh


def _flatten(image: Image.Image) -> Image.Image:
    alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if alpha:
        return image.convert("RGBA")
    if image.mode in ("L", "RGB"):
        return image
    return image.convert("L" if image.mode in ("1", "I;16", "I", "F") else "RGB")


def _encode(image: Image.Image, output: str) -> bytes:
    buffer = io.BytesIO()
    if output == "JPEG":
        if image.mode == "RGBA":
            background = Image.new("RGB", image.size, "white")
            background.paste(image, mask=image.getchannel("A"))
            image = background
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _write_new(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _finish(media: Media, **fields) -> Media:
    # Conditional update: when two workers clean the same media, the first one wins and the
    # loser removes its own derivative.
    updated = Media.objects.filter(pk=media.pk, state=Media.State.PENDING).update(**fields)
    if not updated and fields.get("cleaned_path"):
        (_media_dir() / fields["cleaned_path"]).unlink(missing_ok=True)
    media.refresh_from_db()
    return media
