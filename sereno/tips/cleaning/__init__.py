"""Tip files cleaned into a derivative recipients can open without identifying the source.

`clean_file` looks at the bytes (never the name or the client's content type) and returns:

- "cleaned": a derivative without metadata was written into dst_dir (images redrawn from
  their pixels; PDF and Office documents stripped; plain text copied, having nothing to strip);
- "not_cleanable": a kind we cannot clean (video, audio, archives, HEIC without the plugin,
  password-protected PDF, documents with macros, damaged files): no derivative, never passed
  as clean;
- "rejected": hostile input (image or zip bombs, zip entries named like "../../etc/passwd").

`code` is stable (store it); `reason` is the translated text of REASONS[code].
"""

import logging
import os
import secrets
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from sereno.lib.sanitize import (
    IMAGES,
    OUTPUTS,
    ImageRejected,
    can_decode,
    decode_image,
    encode_image,
    sanitize_name,
)
from sereno.tips.cleaning import detect, office
from sereno.tips.cleaning.pdf import PdfNotCleanable, clean_pdf
from sereno.tips.cleaning.reasons import REASONS

log = logging.getLogger(__name__)

CLEANED, NOT_CLEANABLE, REJECTED = "cleaned", "not_cleanable", "rejected"
# Evidence: photos of documents must stay legible, so tips keep more pixels than public report
# photos (2048); the original stays encrypted at full size.
MAX_SIDE = 4096
TEXT_MAX_BYTES = 100 * 1024 * 1024
TEXT_EXTENSIONS = {"csv": ".csv", "tsv": ".tsv"}


@dataclass(frozen=True)
class CleanResult:
    status: str  # "cleaned", "not_cleanable" or "rejected"
    derivative_path: Path | None
    derivative_name: str  # a display name: no directory, no leading dot
    reason: str  # translated (lazy): REASONS[code]
    code: str = ""
    detected_type: str = ""  # MIME type found in the bytes
    derivative_type: str = ""  # MIME type of the derivative


def clean_file(src_path: Path, *, filename: str, content_type: str, dst_dir: Path) -> CleanResult:
    """Clean one plaintext file into dst_dir (created 0700 if missing). `content_type` is the
    client's claim and is not used to decide anything."""
    del content_type  # the client's word; the bytes decide
    src_path = Path(src_path)
    head = detect.read_head(src_path)
    if not head:
        return _result(NOT_CLEANABLE, "empty", filename, "")
    mime = detect.sniff(head)
    if mime in IMAGES:
        return _clean_image(src_path, mime, filename, dst_dir)
    if mime == "application/pdf":
        return _clean_pdf(src_path, filename, dst_dir)
    if mime == "application/zip":
        return _clean_zip(src_path, filename, dst_dir)
    if mime.startswith("video/"):
        return _result(NOT_CLEANABLE, "video", filename, mime)
    if mime.startswith("audio/"):
        return _result(NOT_CLEANABLE, "audio", filename, mime)
    if mime != "application/octet-stream":
        return _result(NOT_CLEANABLE, "archive", filename, mime)
    return _clean_text(src_path, filename, dst_dir)


def _result(status, code, filename, mime, path=None, extension="", out_type="") -> CleanResult:
    name = ""
    if path is not None:
        stem = sanitize_name(filename)
        stem = stem.rsplit(".", 1)[0] if "." in stem else stem
        name = sanitize_name(f"{stem or 'archivo'}{extension}")
    return CleanResult(status, path, name, REASONS[code], code, mime, out_type)


def _new_derivative(dst_dir: Path, extension: str) -> tuple[Path, object]:
    dst_dir = Path(dst_dir)
    dst_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = dst_dir / f"{secrets.token_hex(16)}{extension}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return path, open(fd, "wb")  # noqa: SIM115 - closed by _write


class _write:
    """Open a new derivative; on any failure it is removed, so nothing half-written stays."""

    def __init__(self, dst_dir: Path, extension: str):
        self.path, self.handle = _new_derivative(dst_dir, extension)

    def __enter__(self):
        return self.handle

    def __exit__(self, kind, error, trace):
        self.handle.close()
        if kind is not None:
            self.path.unlink(missing_ok=True)
        return False


def _clean_image(src: Path, mime: str, filename: str, dst_dir: Path) -> CleanResult:
    decoder, output = IMAGES[mime]
    if not can_decode(decoder):
        return _result(NOT_CLEANABLE, "heic", filename, mime)
    try:
        image = decode_image(src, decoder, max_side=MAX_SIDE)
    except (ImageRejected, Image.DecompressionBombError):
        return _result(REJECTED, "image_bomb", filename, mime)
    except Exception as error:  # untrusted input: any decoder error means a broken file
        log.info("tip image could not be decoded: %s", type(error).__name__)
        return _result(NOT_CLEANABLE, "damaged", filename, mime)
    out_type, extension = OUTPUTS[output]
    writer = _write(dst_dir, extension)
    with writer as handle:
        encode_image(image, output, handle)
    return _result(CLEANED, "image", filename, mime, writer.path, extension, out_type)


def _clean_pdf(src: Path, filename: str, dst_dir: Path) -> CleanResult:
    mime = "application/pdf"
    writer = _write(dst_dir, ".pdf")
    try:
        with writer as handle:
            clean_pdf(src, handle)
    except PdfNotCleanable as error:
        return _result(NOT_CLEANABLE, error.code, filename, mime)
    return _result(CLEANED, "pdf", filename, mime, writer.path, ".pdf", mime)


def _clean_zip(src: Path, filename: str, dst_dir: Path) -> CleanResult:
    mime = "application/zip"
    try:
        with zipfile.ZipFile(src) as archive:
            entries = office.check_archive(archive)
            names = {entry.filename for entry in entries}
            kind = office.document_kind(archive, names)
            if kind is None:
                return _result(NOT_CLEANABLE, "archive", filename, mime)
            mime = office.MIME_TYPES[kind]
            if office.has_macros(kind, names):
                return _result(NOT_CLEANABLE, "macros", filename, mime)
            writer = _write(dst_dir, f".{kind}")
            with writer as handle:
                embedded = office.clean_document(archive, entries, kind, handle)
    except office.ArchiveRejected as error:
        return _result(REJECTED, error.code, filename, mime)
    except office.NotCleanable as error:
        return _result(NOT_CLEANABLE, error.code, filename, mime)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError,
            EOFError, ValueError) as error:  # fmt: skip
        # damaged, encrypted entries, unknown compression, CRC mismatch
        log.info("tip zip could not be read: %s", type(error).__name__)
        return _result(NOT_CLEANABLE, "damaged", filename, mime)
    code = "office_embedded" if embedded else "office"
    return _result(CLEANED, code, filename, mime, writer.path, f".{kind}", mime)


def _clean_text(src: Path, filename: str, dst_dir: Path) -> CleanResult:
    """Plain text carries nothing hidden: the derivative is a byte-for-byte copy, named .txt
    (or .csv/.tsv) so that no viewer runs it as HTML or a script. Markup (HTML, XML, SVG)
    and RTF are text that hides things (comments, editor paths, \\author): not cleanable."""
    unknown = _result(NOT_CLEANABLE, "unknown", filename, "application/octet-stream")
    head = detect.read_head(src)
    if not detect.looks_like_plain_text(head):
        return unknown
    if src.stat().st_size > TEXT_MAX_BYTES:
        return _result(NOT_CLEANABLE, "too_large", filename, "application/octet-stream")
    encoding = detect.text_encoding(src, limit=TEXT_MAX_BYTES)
    if encoding is None:
        return unknown
    given = sanitize_name(filename).rpartition(".")[2].lower()
    extension = TEXT_EXTENSIONS.get(given, ".txt")
    kind = "text/csv" if extension == ".csv" else "text/plain"
    out_type = f"{kind}; charset={encoding}"
    writer = _write(dst_dir, extension)
    with writer as handle, open(src, "rb") as source:
        shutil.copyfileobj(source, handle, detect.CHUNK)
    return _result(CLEANED, "text", filename, kind, writer.path, extension, out_type)
