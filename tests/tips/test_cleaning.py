"""Tip files: the derivative a recipient opens carries nothing that identifies the source.

Every input is a real file built here (Pillow, pikepdf, python-docx, openpyxl, zipfile) with
marker strings in its metadata; each test reads the derivative back and looks for them.
"""

import io
import os
import resource
import struct
import zipfile
import zlib
from pathlib import Path
from xml.dom import minidom

import docx
import openpyxl
import pikepdf
import pytest
from openpyxl.comments import Comment
from pikepdf import Array, Dictionary, Name, String
from PIL import Image

from sereno.tips.cleaning import CleanResult, clean_file
from sereno.tips.cleaning import office as office_module
from sereno.tips.cleaning.reasons import REASONS

pytestmark = pytest.mark.django_db  # the shared fixtures clear the cache table

AUTHOR = "AUTHOR-SECRET-ROSA-MEJIA"
COMPANY = "COMPANY-SECRET-ALCALDIA"
GPS_TEXT = "GPS-DATUM-SECRET-7731"
VISIBLE = "VISIBLE-TEXT-SOBORNO-1234"
# 14 deg 4' 48" N as EXIF rationals, in either byte order.
GPS_RATIONALS = (struct.pack("<6I", 14, 1, 4, 1, 48, 1), struct.pack(">6I", 14, 1, 4, 1, 48, 1))


# --- builders ----------------------------------------------------------------------------------


def gps_jpeg(size=(60, 30), orientation=None) -> bytes:
    image = Image.new("RGB", size, "white")
    image.paste((200, 0, 0), (0, 0, size[0] // 2, size[1]))  # left half red
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x0131] = AUTHOR  # Software
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (14.0, 4.0, 48.0), 3: "W", 4: (87.0, 12.0, 0.0), 18: GPS_TEXT})
    if orientation:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=95)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def write(tmp_path: Path, data: bytes, name="upload") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def clean(tmp_path: Path, data: bytes, filename: str, content_type="application/octet-stream"):
    src = write(tmp_path, data, "original")
    return clean_file(src, filename=filename, content_type=content_type, dst_dir=tmp_path / "out")


def zip_texts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def assert_absent(blob: bytes, *markers: str | bytes) -> None:
    for marker in markers:
        marker = marker.encode() if isinstance(marker, str) else marker
        assert marker not in blob, marker


def assert_no_exif(data: bytes) -> None:
    assert_absent(data, b"Exif\x00\x00", b"CameraMaker", GPS_TEXT, AUTHOR, *GPS_RATIONALS)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert len(image.getexif()) == 0
        assert "exif" not in image.info and "icc_profile" not in image.info


# --- images ------------------------------------------------------------------------------------


def test_jpeg_with_gps_is_redrawn_without_any_metadata(tmp_path):
    original = gps_jpeg()
    assert GPS_TEXT.encode() in original and b"Exif" in original  # the test file is real
    result = clean(tmp_path, original, "IMG_2041.JPG", "image/jpeg")
    assert isinstance(result, CleanResult)
    assert (result.status, result.code) == ("cleaned", "image")
    assert result.derivative_name == "IMG_2041.jpg"
    assert result.derivative_type == "image/jpeg"
    assert str(result.reason) == str(REASONS["image"])
    derivative = result.derivative_path.read_bytes()
    assert_no_exif(derivative)
    with Image.open(result.derivative_path) as image:
        assert image.size == (60, 30)
        assert image.getpixel((5, 15))[0] > 150 and image.getpixel((55, 15))[1] > 150


def test_orientation_is_applied_before_the_exif_goes(tmp_path):
    # Orientation 6: the camera was turned; viewers rotate 90 degrees clockwise.
    result = clean(tmp_path, gps_jpeg(size=(60, 30), orientation=6), "turned.jpg")
    with Image.open(result.derivative_path) as image:
        assert image.size == (30, 60)
        assert image.getpixel((15, 5))[0] > 150  # the red half is now on top
        assert image.getpixel((15, 55))[1] > 150


@pytest.mark.parametrize(
    ("fmt", "derivative_type"),
    [("PNG", "image/png"), ("WEBP", "image/jpeg"), ("GIF", "image/png")],
)
def test_other_image_formats_lose_their_metadata(tmp_path, fmt, derivative_type):
    image = Image.new("RGB", (20, 20), (10, 120, 200))
    buffer = io.BytesIO()
    if fmt == "PNG":
        from PIL import PngImagePlugin

        text = PngImagePlugin.PngInfo()
        text.add_text("Author", AUTHOR)
        image.save(buffer, "PNG", pnginfo=text, exif=Image.open(io.BytesIO(gps_jpeg())).getexif())
    elif fmt == "WEBP":
        image.save(buffer, "WEBP", exif=Image.open(io.BytesIO(gps_jpeg())).getexif())
    else:
        image.save(buffer, "GIF", comment=AUTHOR.encode())
    assert AUTHOR.encode() in buffer.getvalue()
    result = clean(tmp_path, buffer.getvalue(), f"foto.{fmt.lower()}")
    assert result.status == "cleaned"
    assert result.derivative_type == derivative_type
    assert_no_exif(result.derivative_path.read_bytes())


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [30000, 7000])  # refused by Pillow itself, refused by us
def test_png_bomb_is_rejected_without_decoding(tmp_path, side):
    before = _max_rss_mb()
    result = clean(tmp_path, png_declaring(side, side), "bomb.png", "image/png")
    assert (result.status, result.code) == ("rejected", "image_bomb")
    assert result.derivative_path is None
    assert "bomb" in str(result.reason)
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True
    assert _max_rss_mb() - before < 100  # 30000 x 30000 RGB would take 2.7 GB


def test_damaged_image_is_not_cleanable(tmp_path):
    data = gps_jpeg(size=(400, 400))
    result = clean(tmp_path, b"\x89PNG\r\n\x1a\n" + b"garbage" * 30, "roto.png")
    assert (result.status, result.code) == ("not_cleanable", "damaged")
    assert result.derivative_path is None
    truncated = clean(tmp_path, data[:200], "cortada.jpg")
    assert truncated.status == "not_cleanable"


# --- type from the bytes, names ----------------------------------------------------------------


def test_type_comes_from_the_bytes_not_the_name_or_content_type(tmp_path):
    result = clean(tmp_path, gps_jpeg(), "informe.pdf", "application/pdf")
    assert result.status == "cleaned"
    assert result.detected_type == "image/jpeg"
    assert result.derivative_name == "informe.jpg"
    # An executable named as a photo is not an image, nor text.
    fake = clean(
        tmp_path, b"MZ\x90\x00\x03\x00\x00\x00" + os.urandom(500), "foto.jpg", "image/jpeg"
    )
    assert (fake.status, fake.code) == ("not_cleanable", "unknown")


def test_a_path_in_the_file_name_is_only_a_label(tmp_path):
    result = clean(tmp_path, b"root:x:0:0:root:/root:/bin/bash\n", "../../etc/passwd")
    assert result.status == "cleaned"
    assert result.derivative_name == "passwd.txt"
    assert "/" not in result.derivative_name and ".." not in result.derivative_name
    assert result.derivative_path.parent == tmp_path / "out"
    assert result.derivative_path.name != "passwd"  # random name on disk
    assert not (tmp_path.parent / "etc").exists()
    windows = clean(tmp_path, gps_jpeg(), "..\\..\\Windows\\foto.jpg")
    assert windows.derivative_name == "foto.jpg"


def test_derivatives_are_private_files(tmp_path):
    result = clean(tmp_path, gps_jpeg(), "a.jpg")
    assert result.derivative_path.stat().st_mode & 0o777 == 0o600


# --- PDF -----------------------------------------------------------------------------------------


def hostile_pdf(path: Path) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(300, 300))
    page = pdf.pages[0]
    photo = gps_jpeg()
    image = pdf.make_stream(photo)
    image.Type, image.Subtype, image.Filter = Name.XObject, Name.Image, Name.DCTDecode
    image.Width, image.Height, image.BitsPerComponent = 60, 30, 8
    image.ColorSpace = Name.DeviceRGB
    page.Resources = Dictionary(
        Font=Dictionary(F1=Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica)),
        XObject=Dictionary(Im1=image),
    )
    page.Contents = pdf.make_stream(
        f"BT /F1 12 Tf 20 200 Td ({VISIBLE}) Tj ET q 60 0 0 30 20 20 cm /Im1 Do Q".encode()
    )
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = ["XMP-CREATOR-SECRET"]
    pdf.docinfo["/Author"] = AUTHOR
    pdf.docinfo["/Creator"] = COMPANY
    script = pdf.make_indirect(
        Dictionary(S=Name.JavaScript, JS=String("app.launchURL('http://js-secret.example')"))
    )
    pdf.Root.OpenAction = script
    pdf.Root.Names = Dictionary(JavaScript=Dictionary(Names=Array([String("init"), script])))
    page.AA = Dictionary(O=script)
    attached = pikepdf.AttachedFileSpec(
        pdf, b"EMBEDDED-FILE-SECRET contents", mime_type="text/plain"
    )
    pdf.attachments["nomina.txt"] = attached
    pin = Dictionary(
        Type=Name.Annot, Subtype=Name.FileAttachment, Rect=Array([0, 0, 10, 10]),
        FS=attached.obj, Contents=String("ANNOTATION-FILE-SECRET"),
    )  # fmt: skip
    link = Dictionary(
        Type=Name.Annot, Subtype=Name.Link, Rect=Array([20, 190, 200, 215]),
        A=Dictionary(S=Name.URI, URI=String("http://tracker-secret.example/x")),
    )  # fmt: skip
    page.Annots = Array([pdf.make_indirect(pin), pdf.make_indirect(link)])
    pdf.save(path, compress_streams=False)


PDF_SECRETS = (
    AUTHOR, COMPANY, "XMP-CREATOR-SECRET", "js-secret", "EMBEDDED-FILE-SECRET",
    "ANNOTATION-FILE-SECRET", "tracker-secret", GPS_TEXT, "CameraMaker",
)  # fmt: skip


def test_pdf_loses_info_xmp_javascript_embedded_files_and_photo_exif(tmp_path):
    hostile_pdf(tmp_path / "in.pdf")
    original = (tmp_path / "in.pdf").read_bytes()
    for marker in PDF_SECRETS:  # the test file really carries each of them
        assert marker.encode() in original, marker

    result = clean(tmp_path, original, "contrato.pdf", "application/pdf")
    assert (result.status, result.code) == ("cleaned", "pdf")
    assert result.derivative_name == "contrato.pdf"
    cleaned = result.derivative_path.read_bytes()
    assert_absent(cleaned, *PDF_SECRETS, b"/JavaScript", b"/EmbeddedFile", b"/OpenAction")
    assert VISIBLE.encode() in cleaned  # the document itself is untouched

    with pikepdf.open(result.derivative_path) as pdf:
        assert "/Info" not in pdf.trailer or len(pdf.docinfo) == 0
        assert "/Metadata" not in pdf.Root and "/OpenAction" not in pdf.Root
        assert "/JavaScript" not in pdf.Root.get("/Names", {})
        assert len(pdf.attachments) == 0
        page = pdf.pages[0]
        assert "/AA" not in page
        subtypes = [str(a.Subtype) for a in page.get("/Annots", [])]
        assert "/FileAttachment" not in subtypes
        assert all("/A" not in a for a in page.get("/Annots", []))
        photo = page.Resources.XObject.Im1.read_raw_bytes()
    assert_no_exif(photo)  # still a JPEG, without its EXIF


def test_password_protected_pdf_is_not_cleanable(tmp_path):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(tmp_path / "locked.pdf", encryption=pikepdf.Encryption(user="clave", owner="x"))
    result = clean(tmp_path, (tmp_path / "locked.pdf").read_bytes(), "locked.pdf")
    assert (result.status, result.code) == ("not_cleanable", "pdf_encrypted")
    assert result.derivative_path is None


def test_damaged_pdf_is_not_cleanable(tmp_path):
    result = clean(tmp_path, b"%PDF-1.7\n" + b"\x00garbage" * 50, "roto.pdf")
    assert (result.status, result.code) == ("not_cleanable", "damaged")
    assert not list((tmp_path / "out").glob("*"))  # no half-written derivative


# --- Office --------------------------------------------------------------------------------------


def _rewrite_zip(path: Path, changes: dict[str, bytes]) -> None:
    entries = zip_texts(path)
    entries.update(changes)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def word_document(path: Path) -> None:
    """A .docx as Word writes it for a careless author: properties, a comment, revision ids,
    a template on the author's disk, a person's e-mail, and a phone photo with GPS."""
    document = docx.Document()
    paragraph = document.add_paragraph(VISIBLE)
    document.add_comment(paragraph.runs, text="revisar", author=AUTHOR, initials="RM")
    photo = io.BytesIO(gps_jpeg())
    document.add_picture(photo)
    props = document.core_properties
    props.author, props.last_modified_by, props.comments = AUTHOR, AUTHOR, COMPANY
    document.save(path)
    entries = zip_texts(path)
    settings = entries["word/settings.xml"].replace(
        b"</w:settings>",
        b'<w:attachedTemplate r:id="rIdTpl"/><w:rsids><w:rsidRoot w:val="00C0FFEE"/>'
        b'<w:rsid w:val="00C0FFEE"/></w:rsids></w:settings>',
    )
    if b"xmlns:r=" not in settings.split(b">", 2)[1]:
        settings = settings.replace(
            b"<w:settings ",
            b'<w:settings xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
            b'relationships" ',
            1,
        )
    body = entries["word/document.xml"].replace(b"<w:p>", b'<w:p w:rsidR="00C0FFEE">', 1)
    _rewrite_zip(
        path,
        {
            "word/settings.xml": settings,
            "word/document.xml": body,
            "word/_rels/settings.xml.rels": (
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
                b'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                b'<Relationship Id="rIdTpl" Type="http://schemas.openxmlformats.org/'
                b'officeDocument/2006/relationships/attachedTemplate" '
                b'Target="file:///C:/Users/rosa.mejia/TEMPLATE-PATH-SECRET/Normal.dotm" '
                b'TargetMode="External"/></Relationships>'
            ),
            "docProps/app.xml": (
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties '
                b'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-'
                b'properties"><Company>' + COMPANY.encode() + b"</Company></Properties>"
            ),
        },
    )


def test_docx_loses_properties_comment_authors_revision_ids_template_and_photo_gps(tmp_path):
    word_document(tmp_path / "in.docx")
    original = zip_texts(tmp_path / "in.docx")
    everything = b"".join(original.values())
    for marker in (AUTHOR, COMPANY, "00C0FFEE", "TEMPLATE-PATH-SECRET", GPS_TEXT):
        assert marker.encode() in everything, marker

    result = clean(tmp_path, (tmp_path / "in.docx").read_bytes(), "denuncia.docx")
    assert (result.status, result.code) == ("cleaned", "office")
    assert result.derivative_name == "denuncia.docx"
    assert result.detected_type.endswith("wordprocessingml.document")
    cleaned = zip_texts(result.derivative_path)
    assert sorted(cleaned) == sorted(original)  # every part kept: the package stays whole
    for name, data in cleaned.items():
        assert_absent(data, AUTHOR, COMPANY, "00C0FFEE", "TEMPLATE-PATH-SECRET", GPS_TEXT)
        assert_absent(data, "CameraMaker", *GPS_RATIONALS)
        if name.endswith((".xml", ".rels")):
            minidom.parseString(data)  # noqa: S318 - well-formed XML still
    with zipfile.ZipFile(result.derivative_path) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}

    reopened = docx.Document(result.derivative_path)  # still opens
    assert reopened.paragraphs[0].text == VISIBLE
    assert reopened.core_properties.author == ""
    assert [c.author for c in reopened.comments] == [""]
    (shape,) = reopened.inline_shapes
    blob = reopened.part.related_parts[shape._inline.graphic.graphicData.pic.blipFill.blip.embed]
    assert_no_exif(blob.blob)


def test_xlsx_loses_properties_comment_authors_and_the_authors_folder(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A1"] = VISIBLE
    sheet["A1"].comment = Comment("monto inflado", AUTHOR)
    book.properties.creator = AUTHOR
    book.properties.lastModifiedBy = AUTHOR
    book.save(tmp_path / "in.xlsx")
    workbook = zip_texts(tmp_path / "in.xlsx")["xl/workbook.xml"]
    workbook = workbook.replace(
        b"<workbookPr",
        b'<mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility'
        b'/2006"><mc:Choice Requires="x15"><x15ac:absPath url="C:\\Users\\PATH-SECRET\\" '
        b'xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"/>'
        b"</mc:Choice></mc:AlternateContent><workbookPr",
        1,
    )
    _rewrite_zip(tmp_path / "in.xlsx", {"xl/workbook.xml": workbook})
    assert b"PATH-SECRET" in b"".join(zip_texts(tmp_path / "in.xlsx").values())

    result = clean(tmp_path, (tmp_path / "in.xlsx").read_bytes(), "planilla.xlsx")
    assert (result.status, result.code) == ("cleaned", "office")
    for data in zip_texts(result.derivative_path).values():
        assert_absent(data, AUTHOR, "PATH-SECRET")
    reopened = openpyxl.load_workbook(result.derivative_path)
    assert reopened.active["A1"].value == VISIBLE
    assert reopened.active["A1"].comment.text.startswith("monto inflado")


def test_pptx_comment_authors_are_blanked(tmp_path):
    # A package with the parts PowerPoint writes for comments (no PowerPoint reader here).
    with zipfile.ZipFile(tmp_path / "in.pptx", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("ppt/presentation.xml", f"<p:presentation>{VISIBLE}</p:presentation>")
        archive.writestr(
            "ppt/commentAuthors.xml",
            f'<p:cmAuthorLst><p:cmAuthor id="0" name="{AUTHOR}" initials="RM" lastIdx="1" '
            'clrIdx="0"/></p:cmAuthorLst>',
        )
        archive.writestr(
            "ppt/authors.xml",
            f'<p188:authorLst><p188:author id="{{1}}" name="{AUTHOR}" initials="RM" '
            f'userId="{AUTHOR}@example.org" providerId="AD"/></p188:authorLst>',
        )
        archive.writestr("docProps/core.xml", f"<cp:coreProperties>{AUTHOR}</cp:coreProperties>")
    result = clean(tmp_path, (tmp_path / "in.pptx").read_bytes(), "presentacion.pptx")
    assert (result.status, result.code) == ("cleaned", "office")
    assert result.derivative_name == "presentacion.pptx"
    entries = zip_texts(result.derivative_path)
    for data in entries.values():
        assert_absent(data, AUTHOR)
    assert b'name="" initials=""' in entries["ppt/commentAuthors.xml"]
    assert b'id="0"' in entries["ppt/commentAuthors.xml"]  # comments still point at it
    assert VISIBLE.encode() in entries["ppt/presentation.xml"]


def odf_text(path: Path) -> None:
    office = 'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    ns = (
        f'{office} xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
        'xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0"'
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} '
        'office:version="1.3"><office:body><office:text><text:p>'
        f"{VISIBLE}<office:annotation><dc:creator>{AUTHOR}</dc:creator>"
        "<dc:date>2026-01-01T10:00:00</dc:date><text:p>ojo</text:p></office:annotation>"
        "</text:p></office:text></office:body></office:document-content>"
    )
    meta = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta {ns} '
        f'office:version="1.3"><office:meta><meta:initial-creator>{AUTHOR}'
        f"</meta:initial-creator><dc:creator>{AUTHOR}</dc:creator>"
        "<meta:generator>LibreOffice</meta:generator></office:meta></office:document-meta>"
    )
    settings = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-settings {ns} '
        'office:version="1.3"><office:settings><config:config-item-set config:name="x">'
        f'<config:config-item config:name="PrinterName" config:type="string">{COMPANY}-PC'
        "</config:config-item></config:config-item-set></office:settings>"
        "</office:document-settings>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:'
        'names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/'
        'vnd.oasis.opendocument.text"/></manifest:manifest>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED)
        archive.writestr("content.xml", content)
        archive.writestr("meta.xml", meta)
        archive.writestr("settings.xml", settings)
        archive.writestr("Pictures/foto.jpg", gps_jpeg())
        archive.writestr("META-INF/manifest.xml", manifest)


def test_odt_loses_meta_annotation_authors_printer_and_photo_gps(tmp_path):
    odf_text(tmp_path / "in.odt")
    result = clean(tmp_path, (tmp_path / "in.odt").read_bytes(), "acta.odt")
    assert (result.status, result.code) == ("cleaned", "office")
    assert result.derivative_name == "acta.odt"
    with zipfile.ZipFile(result.derivative_path) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    for data in entries.values():
        assert_absent(data, AUTHOR, COMPANY, GPS_TEXT, "CameraMaker")
    assert VISIBLE.encode() in entries["content.xml"]
    assert b'office:version="1.3"' in entries["meta.xml"]
    for name in ("content.xml", "meta.xml", "settings.xml"):
        minidom.parseString(entries[name])  # noqa: S318
    with Image.open(io.BytesIO(entries["Pictures/foto.jpg"])) as photo:
        photo.load()  # the photo still draws


def test_documents_with_macros_are_not_cleanable(tmp_path):
    word_document(tmp_path / "in.docx")
    _rewrite_zip(tmp_path / "in.docx", {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0macro"})
    result = clean(tmp_path, (tmp_path / "in.docx").read_bytes(), "macro.docm")
    assert (result.status, result.code) == ("not_cleanable", "macros")
    assert result.derivative_path is None


# --- archives and bombs ------------------------------------------------------------------------


def zip_bomb(path: Path, megabytes: int = 64, append: bool = False) -> None:
    """A zip whose one entry inflates to `megabytes` of zeros (ratio about 1000:1)."""
    with zipfile.ZipFile(path, "a" if append else "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("word/media/bomba.bin", "w") as entry:
            block = b"\x00" * (1024 * 1024)
            for _ in range(megabytes):
                entry.write(block)


def test_zip_bomb_is_rejected(tmp_path):
    zip_bomb(tmp_path / "bomb.zip")
    data = (tmp_path / "bomb.zip").read_bytes()
    assert len(data) < 200_000
    result = clean(tmp_path, data, "fotos.zip", "application/zip")
    assert (result.status, result.code) == ("rejected", "archive_bomb")
    assert "zip" in str(result.reason)


def test_zip_bomb_inside_a_word_document_is_rejected(tmp_path, monkeypatch):
    word_document(tmp_path / "in.docx")
    zip_bomb(tmp_path / "in.docx", megabytes=8, append=True)
    result = clean(tmp_path, (tmp_path / "in.docx").read_bytes(), "informe.docx")
    assert (result.status, result.code) == ("rejected", "archive_bomb")


def test_many_small_entries_adding_up_are_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(office_module, "MAX_TOTAL_BYTES", 4 * 1024 * 1024)
    with zipfile.ZipFile(tmp_path / "many.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(10):
            archive.writestr(f"parte{i}.txt", os.urandom(512 * 1024))  # incompressible
    result = clean(tmp_path, (tmp_path / "many.zip").read_bytes(), "many.zip")
    assert (result.status, result.code) == ("rejected", "archive_bomb")


def test_too_many_entries_are_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(office_module, "MAX_ENTRIES", 50)
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as archive:
        for i in range(51):
            archive.writestr(f"f{i}", b"x")
    result = clean(tmp_path, (tmp_path / "many.zip").read_bytes(), "many.zip")
    assert (result.status, result.code) == ("rejected", "archive_entries")


@pytest.mark.parametrize(
    "entry", ["../../etc/passwd", "/etc/passwd", "word\\..\\..\\x", "C:/Windows/x", "a/../../b"]
)
def test_zip_entries_with_dangerous_names_are_rejected(tmp_path, entry):
    word_document(tmp_path / "in.docx")
    with zipfile.ZipFile(tmp_path / "in.docx", "a") as archive:
        archive.writestr(zipfile.ZipInfo(entry), b"root:x:0:0")
    result = clean(tmp_path, (tmp_path / "in.docx").read_bytes(), "informe.docx")
    assert (result.status, result.code) == ("rejected", "archive_names")
    assert not (tmp_path.parent / "etc" / "passwd").exists()


def test_an_ordinary_zip_is_not_cleanable(tmp_path):
    with zipfile.ZipFile(tmp_path / "fotos.zip", "w") as archive:
        archive.writestr("foto.jpg", gps_jpeg())
    result = clean(tmp_path, (tmp_path / "fotos.zip").read_bytes(), "fotos.zip")
    assert (result.status, result.code) == ("not_cleanable", "archive")
    assert result.derivative_path is None


def test_damaged_zip_is_not_cleanable(tmp_path):
    word_document(tmp_path / "in.docx")
    data = (tmp_path / "in.docx").read_bytes()
    result = clean(tmp_path, data[: len(data) // 2], "cortado.docx")
    assert (result.status, result.code) == ("not_cleanable", "damaged")


# --- text, media, everything else --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "derivative_name", "charset"),
    [
        (b"fecha;monto\n2026-01-02;L 50.000\n", "pagos.csv", "pagos.csv", "utf-8"),
        ("año;señor\nPeña;Núñez\r\n".encode("cp1252"), "lista.CSV", "lista.csv", "windows-1252"),
        ("Él pagó el soborno.\n".encode("utf-16"), "nota.txt", "nota.txt", "utf-16"),
        (b"ninguna etiqueta, solo texto\n", "pagina.html", "pagina.txt", "utf-8"),
    ],
)
def test_plain_text_passes_as_cleaned_under_a_safe_name(tmp_path, data, name, derivative_name,
                                                         charset):  # fmt: skip
    result = clean(tmp_path, data, name, "text/html")
    assert (result.status, result.code) == ("cleaned", "text")
    assert result.derivative_name == derivative_name  # never .html: no viewer runs it
    assert result.derivative_type.endswith(f"charset={charset}")
    assert result.derivative_path.read_bytes() == data


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00isommp42" + b"\x00" * 64, "video"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + b"\x00" * 64, "video"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb" * 40, "audio"),
        (b"OggS\x00\x02" + b"\x00" * 60, "audio"),
        (b"\x1f\x8b\x08\x00" + os.urandom(60), "archive"),
        (b"Rar!\x1a\x07\x01\x00" + os.urandom(60), "archive"),
        (b"7z\xbc\xaf\x27\x1c" + os.urandom(60), "archive"),
        (os.urandom(4096).replace(b"\xff\xd8", b"\x00\x00"), "unknown"),
        (b"", "empty"),
    ],
)
def test_what_cannot_be_cleaned_is_marked_so(tmp_path, data, code):
    result = clean(tmp_path, data, "evidencia.bin")
    assert (result.status, result.code) == ("not_cleanable", code)
    assert result.derivative_path is None and result.derivative_name == ""
    assert str(result.reason)


@pytest.mark.parametrize(
    "data",
    [
        b"<html><!-- autor: Rosa --><script>fetch('http://x')</script></html>",
        b'\xef\xbb\xbf  <?xml version="1.0"?><svg sodipodi:docname="C:\\Users\\rosa"/>',
        b"{\\rtf1\\ansi{\\info{\\author Rosa Mejia}}hola}",
        b"basura antes %PDF-1.4 /Author (Rosa)",
    ],
)
def test_markup_rtf_and_disguised_pdf_are_not_passed_as_plain_text(tmp_path, data):
    result = clean(tmp_path, data, "nota.txt", "text/plain")
    assert (result.status, result.code) == ("not_cleanable", "unknown")


def test_size_limit_of_text_only_applies_to_text(tmp_path, monkeypatch):
    import sereno.tips.cleaning as cleaning

    monkeypatch.setattr(cleaning, "TEXT_MAX_BYTES", 1000)
    long_text = clean(tmp_path, b"linea de texto\n" * 100, "largo.txt")
    assert (long_text.status, long_text.code) == ("not_cleanable", "too_large")
    binary = clean(tmp_path, b"\x00\x01" * 1000, "datos.bin")
    assert (binary.status, binary.code) == ("not_cleanable", "unknown")


def test_heic_without_the_plugin_is_not_cleanable(tmp_path, monkeypatch):
    import sereno.tips.cleaning as cleaning

    monkeypatch.setattr(cleaning, "can_decode", lambda decoder: False)
    head = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    result = clean(tmp_path, head, "IMG_0001.HEIC", "image/heic")
    assert (result.status, result.code) == ("not_cleanable", "heic")


def test_every_reason_has_spanish(settings):
    from django.utils import translation

    for code, text in REASONS.items():
        with translation.override("es"):
            spanish = str(text)
        with translation.override("en"):
            english = str(text)
        assert spanish != english, code


# --- through the tip line ------------------------------------------------------------------------


def test_a_source_photo_reaches_recipients_without_gps_and_the_original_keeps_it(
    client, channel, recipient_client
):
    """The real flow: a source attaches a phone photo named like a document; the recipient
    sees "cleaned", downloads a clean copy without any metadata and, apart, the original
    exactly as sent (its SHA-256 shown)."""
    import hashlib

    from django.core.files.uploadedfile import SimpleUploadedFile

    from sereno.tips.models import Tip, TipFile
    from tests.tips.conftest import submit

    photo = gps_jpeg(size=(80, 40))
    response = submit(
        client, channel, files=[SimpleUploadedFile("acta.pdf", photo, "application/pdf")]
    )
    assert response.status_code == 201
    tip, tip_file = Tip.objects.get(), TipFile.objects.get()
    assert tip_file.status == "cleaned"
    page = recipient_client.get(f"/tips/inbox/{tip.pk}/").content.decode()
    assert hashlib.sha256(photo).hexdigest() in page
    base = f"/tips/inbox/{tip.pk}/files/{tip_file.pk}"
    clean_copy = b"".join(recipient_client.get(f"{base}/clean/").streaming_content)
    assert_no_exif(clean_copy)
    with Image.open(io.BytesIO(clean_copy)) as image:
        assert image.size == (80, 40)
    original = b"".join(recipient_client.get(f"{base}/original/").streaming_content)
    assert original == photo and GPS_TEXT.encode() in original


def test_a_zip_bomb_sent_as_a_tip_file_is_marked_rejected(
    client, channel, recipient_client, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from sereno.tips.models import Tip, TipFile
    from tests.tips.conftest import submit

    zip_bomb(tmp_path / "bomb.zip", megabytes=16)
    bomb = (tmp_path / "bomb.zip").read_bytes()
    response = submit(
        client, channel, files=[SimpleUploadedFile("fotos.zip", bomb, "application/zip")]
    )
    assert response.status_code == 201
    tip, tip_file = Tip.objects.get(), TipFile.objects.get()
    assert tip_file.status == "rejected"
    page = recipient_client.get(f"/tips/inbox/{tip.pk}/").content.decode()
    assert "bomba zip" in page  # the reason, in Spanish
    assert (
        recipient_client.get(f"/tips/inbox/{tip.pk}/files/{tip_file.pk}/clean/").status_code == 404
    )
