"""Zip containers: bomb and path checks for any zip, and cleaning of Office documents
(Word, Excel, PowerPoint: docx/xlsx/pptx; OpenDocument: odt/ods/odp).

A document is rewritten entry by entry into a fresh zip: properties parts are replaced by
empty ones (never deleted, so the package's manifest stays true and the document opens),
author attributes and revision ids are blanked, external links that open by themselves are
cut, photos lose their metadata, and every entry gets the same neutral timestamp.
"""

import re
import zipfile
from collections.abc import Callable
from typing import BinaryIO

from sereno.lib.sanitize import sniff_type, strip_jpeg_segments, strip_png_chunks

MAX_ENTRIES = 10_000
MAX_TOTAL_BYTES = 512 * 1024 * 1024  # uncompressed, all entries together
MAX_RATIO = 100  # uncompressed / compressed, for entries above RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024  # small entries (XML) may legitimately compress better
MAX_EDIT_BYTES = 64 * 1024 * 1024  # an entry we rewrite in memory
CHUNK = 64 * 1024
NEUTRAL_TIME = (1980, 1, 1, 0, 0, 0)


class ArchiveRejected(Exception):
    """A hostile archive; .code is a key of cleaning.reasons.REASONS."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class NotCleanable(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _unsafe_name(name: str) -> bool:
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return True
    parts = name.split("/")
    return ".." in parts or bool(re.match(r"^[A-Za-z]:", parts[0]))


def check_archive(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The entries, once they pass the limits; ArchiveRejected otherwise. Sizes are the
    archive's word here; reading enforces them (zipfile stops at the declared size and checks
    the CRC), and the total is counted again while copying."""
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        raise ArchiveRejected("archive_entries")
    seen: set[str] = set()
    total = 0
    for entry in entries:
        if _unsafe_name(entry.filename) or entry.filename.casefold() in seen:
            raise ArchiveRejected("archive_names")
        seen.add(entry.filename.casefold())
        total += entry.file_size
        ratio_bomb = entry.file_size > RATIO_FLOOR and entry.file_size > MAX_RATIO * max(
            1, entry.compress_size
        )
        if total > MAX_TOTAL_BYTES or ratio_bomb:
            raise ArchiveRejected("archive_bomb")
    return entries


# --- which document ------------------------------------------------------------------------------

_ODF = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
    b"application/vnd.oasis.opendocument.presentation": "odp",
}
_OOXML = {"word/document.xml": "docx", "xl/workbook.xml": "xlsx", "ppt/presentation.xml": "pptx"}
MIME_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    **{kind: mime.decode() for mime, kind in _ODF.items()},
}


def document_kind(archive: zipfile.ZipFile, names: set[str]) -> str | None:
    """docx/xlsx/pptx/odt/ods/odp, or None for any other zip."""
    if "mimetype" in names and archive.getinfo("mimetype").file_size < 200:
        return _ODF.get(archive.read("mimetype").strip())
    if "[Content_Types].xml" in names:
        return next((kind for part, kind in _OOXML.items() if part in names), None)
    return None


def has_macros(kind: str, names: set[str]) -> bool:
    if kind in ("odt", "ods", "odp"):
        return any(n.startswith(("Basic/", "Scripts/")) and not n.endswith("/") for n in names)
    return any(n.lower().endswith("vbaproject.bin") for n in names)


# --- what changes ------------------------------------------------------------------------------

_OOXML_EMPTY = {
    "docProps/core.xml": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b"<cp:coreProperties "
    b'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>',
    "docProps/app.xml": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"'
    b' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"/>',
    "docProps/custom.xml": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"'
    b' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"/>',
}
_ODF_NS = b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'


def _odf_empty(root: bytes) -> Callable[[bytes], bytes]:
    def build(original: bytes) -> bytes:
        version = re.search(rb'office:version="([0-9.]{1,8})"', original)
        attribute = b' office:version="%s"' % version.group(1) if version else b""
        inner = b"<office:meta/>" if root == b"office:document-meta" else b""
        return b'<?xml version="1.0" encoding="UTF-8"?>\n<%s %s%s>%s</%s>' % (
            root,
            _ODF_NS,
            attribute,
            inner,
            root,
        )

    return build


_ODF_EMPTY = {
    "meta.xml": _odf_empty(b"office:document-meta"),
    # printer names, the computer's name inside the printer setup, window positions
    "settings.xml": _odf_empty(b"office:document-settings"),
}


def _blank_attributes(*names: str) -> tuple[re.Pattern, bytes]:
    alternatives = "|".join(re.escape(n) for n in names)
    return re.compile(rb'(\s(?:[\w.-]+:)?(?:%s))="[^"]*"' % alternatives.encode()), rb'\1=""'


def _drop(pattern: bytes) -> tuple[re.Pattern, bytes]:
    return re.compile(pattern, re.S), b""


_RELS_EXTERNAL = re.compile(rb"<Relationship\b[^>]*>")


def _cut_external_links(data: bytes) -> bytes:
    """Relationships that Office follows on opening (a remote template, a linked picture, a
    frame) would tell their owner who opened the document and when: point them nowhere.
    Hyperlinks are kept; they need a click."""

    def cut(match: re.Match) -> bytes:
        tag = match.group(0)
        if b'TargetMode="External"' not in tag or re.search(rb'Type="[^"]*/hyperlink"', tag):
            return tag
        return re.sub(rb'Target="[^"]*"', b'Target="about:blank"', tag)

    return _RELS_EXTERNAL.sub(cut, data)


# (entry name matcher, substitutions). Dates and authors of comments and tracked changes,
# revision-session ids (w:rsid: they link documents edited in the same session), the
# people list (e-mail addresses), the workbook's absolute path on the author's computer.
_WORD_PEOPLE = [
    _blank_attributes("author", "initials", "userId", "providerId"),
    (re.compile(rb'\s(?:w|w16du):date(?:Utc)?="[^"]*"'), b""),
    (re.compile(rb'\sw:rsid\w*="[^"]*"'), b""),
    _drop(rb"<w:rsids>.*?</w:rsids>"),
    _drop(rb"<w:attachedTemplate\b[^>]*/>"),
    _drop(rb"<w15:presenceInfo\b[^>]*/>"),
]
_RULES: list[tuple[Callable[[str], bool], list]] = [
    (lambda n: n.startswith("word/") and n.endswith(".xml"), _WORD_PEOPLE),
    (
        lambda n: n.startswith("xl/") and n.endswith(".xml"),
        [
            (re.compile(rb"<author>[^<]*</author>"), b"<author></author>"),
            _drop(rb"<(?:\w+:)?absPath\b[^>]*/>"),
            _blank_attributes("userName"),
        ],
    ),
    (
        lambda n: n.startswith("xl/persons/") and n.endswith(".xml"),
        [_blank_attributes("displayName", "userId", "providerId")],
    ),
    (
        lambda n: n in ("ppt/commentAuthors.xml", "ppt/authors.xml"),
        [_blank_attributes("name", "initials", "userId", "providerId")],
    ),
    (
        lambda n: n in ("content.xml", "styles.xml"),
        [
            (re.compile(rb"<dc:creator>[^<]*</dc:creator>"), b"<dc:creator/>"),
            (
                re.compile(rb"<meta:creator-initials>[^<]*</meta:creator-initials>"),
                b"<meta:creator-initials/>",
            ),
        ],
    ),
]
_IMAGE_DIRS = ("word/media/", "xl/media/", "ppt/media/", "Pictures/", "Thumbnails/")
_EMBEDDED = ("word/embeddings/", "xl/embeddings/", "ppt/embeddings/", "Object ")


def _replacement(kind: str, name: str) -> Callable[[bytes], bytes] | None:
    if kind in ("odt", "ods", "odp") and name in _ODF_EMPTY:
        return _ODF_EMPTY[name]
    if kind in ("docx", "xlsx", "pptx") and name in _OOXML_EMPTY:
        return lambda _original: _OOXML_EMPTY[name]
    if name.endswith(".rels"):
        return _cut_external_links
    rules = [rule for matches, subs in _RULES if matches(name) for rule in subs]
    if rules:

        def edit(data: bytes) -> bytes:
            for pattern, repl in rules:
                data = pattern.sub(repl, data)
            return data

        return edit
    if name.startswith(_IMAGE_DIRS) or name.startswith("docProps/thumbnail"):
        return _strip_image
    return None


def _strip_image(data: bytes) -> bytes:
    kind = sniff_type(data[:64])
    try:
        if kind == "image/jpeg":
            return strip_jpeg_segments(data)
        if kind == "image/png":
            return strip_png_chunks(data)
    except ValueError as error:
        raise NotCleanable("damaged") from error
    return data  # EMF, WMF, SVG, GIF...: drawings without camera metadata


def clean_document(
    archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], kind: str, target: BinaryIO
) -> bool:
    """Write the cleaned document to target. True when it has embedded objects (which keep
    their own properties)."""
    embedded = False
    total = 0
    with zipfile.ZipFile(target, "w") as out:
        for entry in entries:
            name = entry.filename
            embedded = embedded or (name.startswith(_EMBEDDED) and not name.endswith("/"))
            info = zipfile.ZipInfo(name, date_time=NEUTRAL_TIME)
            info.external_attr = 0o600 << 16
            stored = entry.compress_type == zipfile.ZIP_STORED
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            if entry.is_dir():
                out.writestr(info, b"")
                continue
            change = _replacement(kind, name)
            if change is not None:
                if entry.file_size > MAX_EDIT_BYTES:
                    raise NotCleanable("too_large")
                data = change(archive.read(entry))
                total += len(data)
                out.writestr(info, data)
                continue
            with archive.open(entry) as source, out.open(info, "w") as sink:
                while chunk := source.read(CHUNK):
                    total += len(chunk)
                    if total > MAX_TOTAL_BYTES:
                        raise ArchiveRejected("archive_bomb")
                    sink.write(chunk)
    return embedded
