"""Media intake: originals encrypted at rest, shareable derivatives re-encoded without metadata.

A photo's EXIF GPS tag can get a reporter killed. Nothing from an upload reaches the public
except its pixels, decoded and re-encoded into a fresh image; everything else stays sealed.
"""

import hashlib
import io
import logging
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image

from sereno.lib.crypto import DecryptionError, decrypt_stream, encrypt_stream
from sereno.lib.errors import InvalidInput, NotFound
from sereno.lib.sanitize import IMAGES as _IMAGES
from sereno.lib.sanitize import OUTPUTS as _OUTPUTS
from sereno.lib.sanitize import SNIFF_BYTES as _SNIFF_BYTES
from sereno.lib.sanitize import (
    can_decode,
    decode_image,
    encode_image,
    sanitize_name,
    sniff_type,
)
from sereno.lib.sanitize import write_new as _write_new
from sereno.reports.models import Media

log = logging.getLogger(__name__)

PURPOSE = "media-original"
MAX_SIDE = 2048


# --- intake --------------------------------------------------------------------------------------


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
    if decoder is None or not can_decode(decoder):
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
    buffer = io.BytesIO()
    encode_image(image, output, buffer)
    _write_new(_media_dir() / relative, buffer.getvalue())
    return _finish(
        media,
        state=Media.State.CLEAN,
        cleaned_path=relative,
        cleaned_type=mime,
        width=image.width,
        height=image.height,
    )


def _decode(data: bytes, decoder: str) -> Image.Image:
    """Pixels only, upright, at most MAX_SIDE (see sereno.lib.sanitize.decode_image)."""
    return decode_image(io.BytesIO(data), decoder, max_side=MAX_SIDE)


def _finish(media: Media, **fields) -> Media:
    # Conditional update: when two workers clean the same media, the first one wins and the
    # loser removes its own derivative.
    updated = Media.objects.filter(pk=media.pk, state=Media.State.PENDING).update(**fields)
    if not updated and fields.get("cleaned_path"):
        (_media_dir() / fields["cleaned_path"]).unlink(missing_ok=True)
    media.refresh_from_db()
    return media
