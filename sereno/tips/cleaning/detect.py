"""What a file is, from its bytes: never from its name or the client's content type."""

import codecs
from pathlib import Path

from sereno.lib.sanitize import sniff_type

HEAD_BYTES = 4096
CHUNK = 64 * 1024

_ARCHIVES = (
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"\x1f\x8b", "application/gzip"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"(\xb5/\xfd", "application/zstd"),
    (b"PK\x05\x06", "application/zip"),  # an empty zip
)
_AUDIO = ((b"fLaC", "audio/flac"), (b"MThd", "audio/midi"))
# C0 controls that never appear in text (tab, line feed, form feed, carriage return do).
_CONTROLS = bytes(b for b in range(32) if b not in (9, 10, 12, 13))
_CP1252_UNDEFINED = b"\x81\x8d\x8f\x90\x9d"


def read_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


def sniff(head: bytes) -> str:
    """The MIME type from the first bytes (images, PDF, zip, audio, video, archives)."""
    mime = sniff_type(head)
    if mime != "application/octet-stream":
        return mime
    if head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"WAVE"):
        return "video/x-msvideo" if head[8:12] == b"AVI " else "audio/wav"
    for magic, found in _ARCHIVES + _AUDIO:
        if head.startswith(magic):
            return found
    if head[257:262] == b"ustar":
        return "application/x-tar"
    return mime


def looks_like_plain_text(head: bytes) -> bool:
    """A first look: no control bytes (unless UTF-16), and not markup, RTF or a PDF."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head.decode("utf-16", errors="replace").encode("utf-8", errors="replace")
    elif head.translate(None, _CONTROLS) != head:
        return False
    start = head.removeprefix(codecs.BOM_UTF8).lstrip()
    return not (start.startswith((b"<", b"{\\rtf")) or b"%PDF-" in head)


def text_encoding(path: Path, *, limit: int) -> str | None:
    """The encoding if the whole file is text (UTF-8, UTF-16 with a BOM, or Windows-1252 as
    Excel writes CSV on Windows), else None. Files over `limit` bytes are not read."""
    if path.stat().st_size > limit:
        return None
    head = read_head(path)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16" if _decodes(path, "utf-16") else None
    utf8, cp1252 = codecs.getincrementaldecoder("utf-8")(), True
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            if chunk.translate(None, _CONTROLS) != chunk:
                return None
            if utf8 is not None:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = None
            if cp1252 and chunk.translate(None, _CP1252_UNDEFINED) != chunk:
                cp1252 = False
            if utf8 is None and not cp1252:
                return None
    if utf8 is not None:
        try:
            utf8.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    return "windows-1252" if cp1252 else None


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                text = decoder.decode(chunk)
                if any(c in text for c in _CONTROLS.decode("ascii")):
                    return False
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
