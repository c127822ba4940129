"""Untrusted files, shared by report media and tip files: the type from the bytes, a safe
display name, and images re-encoded into pixels only (no EXIF, XMP, GPS, ICC or comments).

The client's file name and content type are never asked what a file is: a renamed file is
detected by its first bytes, and only the decoders listed here ever see it.
"""

import os
import unicodedata
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps

try:  # HEIC (iPhones) only when the optional pillow-heif plugin is installed
    from pillow_heif import register_heif_opener
except ImportError:  # pragma: no cover - depends on the installation
    pass
else:  # pragma: no cover
    register_heif_opener()

MAX_PIXELS = 40_000_000
NAME_MAX = 120
JPEG_QUALITY = 85
SNIFF_BYTES = 64

# Pillow refuses (DecompressionBombError) above twice this and only warns above it; warnings
# are process-wide and not thread-safe to turn into errors, so decode_image checks the size.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Detected MIME type -> (Pillow decoder, output format). Only these are ever decoded.
IMAGES = {
    "image/jpeg": ("JPEG", "JPEG"),
    "image/png": ("PNG", "PNG"),
    "image/gif": ("GIF", "PNG"),
    "image/webp": ("WEBP", "JPEG"),
    "image/heic": ("HEIF", "JPEG"),
    "image/avif": ("AVIF", "JPEG"),
}
OUTPUTS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png")}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


class ImageRejected(Exception):
    """A decodable image the cleaner refuses: too many pixels (a decompression bomb) or none."""


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


def can_decode(decoder: str) -> bool:
    """Whether this Pillow has the decoder (HEIF and AVIF depend on plugins)."""
    Image.init()
    return decoder in Image.OPEN


def decode_image(source: BinaryIO | Path, decoder: str, *, max_side: int | None) -> Image.Image:
    """Decode the first frame, upright and at most max_side, into a fresh image that holds
    pixels only: no EXIF, XMP, IPTC, ICC profile, comments or text chunks.

    Raises ImageRejected for a decompression bomb (before any pixel is decoded) and whatever
    the decoder raises for a broken file."""
    with Image.open(source, formats=[decoder]) as image:
        width, height = image.size
        if width < 1 or height < 1 or width * height > MAX_PIXELS:
            raise ImageRejected(f"{width}x{height} pixels")
        image.seek(0)
        if decoder == "JPEG" and max_side:
            image.draft("RGB", (max_side, max_side))  # decode scaled down: less memory
        image.load()
        upright = ImageOps.exif_transpose(image)
    pixels = _flatten(upright)
    if max_side:
        pixels.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
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


def encode_image(image: Image.Image, output: str, target: BinaryIO) -> None:
    """Write the image as JPEG (alpha flattened on white) or PNG, with nothing but pixels."""
    if output == "JPEG":
        if image.mode == "RGBA":
            background = Image.new("RGB", image.size, "white")
            background.paste(image, mask=image.getchannel("A"))
            image = background
        image.save(target, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        image.save(target, "PNG", optimize=True)


# JPEG segments that carry no pixels and may carry identity: APP1 (EXIF, XMP: GPS, camera
# serial), APP2 (ICC, FlashPix), APP3-APP13 (IPTC, vendor notes), APP15, COM. APP0 (JFIF) and
# APP14 (Adobe: tells decoders how to read CMYK/YCCK) are kept.
_JPEG_DROP = {0xE1, *range(0xE2, 0xEE), 0xEF, 0xFE}


def strip_jpeg_segments(data: bytes) -> bytes:
    """The same JPEG without its metadata segments, pixels untouched (no re-encoding).

    Used where the format must stay byte-compatible (a JPEG inside a PDF). Raises ValueError
    for data that is not a well-formed JPEG up to its first scan."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    out, pos = bytearray(b"\xff\xd8"), 2
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise ValueError("malformed JPEG segment")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or marker == 0xD9:  # start of scan / end: the rest is pixel data
            out += data[pos:]
            return bytes(out)
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            raise ValueError("malformed JPEG segment length")
        if marker not in _JPEG_DROP:
            out += data[pos : pos + 2 + length]
        pos += 2 + length


def write_new(path: Path, data: bytes) -> None:
    """Write a file that did not exist, durably and all at once (a reader never sees half)."""
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


# PNG chunks that only draw pixels; anything else (tEXt, zTXt, iTXt, eXIf, tIME, iCCP, vendor
# chunks) may carry a name, a place or a date and is dropped.
_PNG_KEEP = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT",
    b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT",
}  # fmt: skip


def strip_png_chunks(data: bytes) -> bytes:
    """The same PNG with only the chunks that draw it, pixels untouched (no re-encoding).

    Raises ValueError for data that is not a well-formed PNG."""
    signature = b"\x89PNG\r\n\x1a\n"
    if not data.startswith(signature):
        raise ValueError("not a PNG")
    out, pos = bytearray(signature), len(signature)
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError("truncated PNG chunk")
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("truncated PNG chunk")
        if kind in _PNG_KEEP:
            out += data[pos:end]
        pos = end
        if kind == b"IEND":
            return bytes(out)
    raise ValueError("PNG without IEND")
