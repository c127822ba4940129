"""PDF cleaning with pikepdf (qpdf): what identifies the author or acts on the reader goes.

Removed: the document information dictionary, XMP metadata on any object, application
private data (PieceInfo), JavaScript, automatic actions (OpenAction, AA), actions that reach
outside the document (URI, Launch, SubmitForm, ImportData, GoToR, GoToE, media), XFA forms,
embedded files and the annotations that carry files or media, and metadata segments of JPEG
photos inside. qpdf writes only objects still reachable, so earlier revisions (incremental
updates, where deleted text often survives) are dropped too. Streams are copied without
being decompressed, so a compression bomb inside a PDF costs nothing.
"""

from typing import BinaryIO

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream

from sereno.lib.sanitize import strip_jpeg_segments

_DROP_KEYS = ("/Metadata", "/PieceInfo", "/AA", "/OpenAction", "/JS", "/EF", "/RF", "/XFA")
_UNSAFE_ACTIONS = {
    "/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE", "/URI",
    "/Rendition", "/Sound", "/Movie", "/RichMediaExecute",
}  # fmt: skip
_UNSAFE_ANNOTATIONS = {"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"}
_ACTION_KEYS = ("/A", "/Next")


class PdfNotCleanable(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def clean_pdf(source, target: BinaryIO) -> None:
    try:
        pdf = pikepdf.open(source)
    except pikepdf.PasswordError as error:
        raise PdfNotCleanable("pdf_encrypted") from error
    except pikepdf.PdfError as error:
        raise PdfNotCleanable("damaged") from error
    with pdf:
        try:
            _strip(pdf)
        except (pikepdf.PdfError, ValueError, TypeError, KeyError) as error:
            raise PdfNotCleanable("damaged") from error
        pdf.save(
            target,
            fix_metadata_version=False,
            compress_streams=False,
            stream_decode_level=pikepdf.StreamDecodeLevel.none,
            deterministic_id=True,  # the file ID, otherwise made from time and file name
            encryption=False,
        )


def _strip(pdf: pikepdf.Pdf) -> None:
    if "/Info" in pdf.trailer:
        del pdf.trailer["/Info"]
    root = pdf.Root
    for key in ("/Collection", "/Threads", "/SpiderInfo", "/Perms"):
        if key in root:
            del root[key]
    names = root.get("/Names")
    if isinstance(names, Dictionary):
        for key in ("/JavaScript", "/EmbeddedFiles", "/AlternatePresentations", "/Renditions"):
            if key in names:
                del names[key]
    for obj in pdf.objects:
        _walk(obj)


def _walk(start) -> None:
    """Clean a dictionary, stream or array and the direct objects nested in it; indirect ones
    are visited from pdf.objects."""
    stack = [start]
    while stack:
        obj = stack.pop()
        if isinstance(obj, Array):
            stack.extend(item for item in obj if _direct_container(item))
            continue
        if not isinstance(obj, (Dictionary, Stream)):
            continue
        _clean_dict(obj)
        stack.extend(value for _key, value in obj.items() if _direct_container(value))


def _direct_container(obj) -> bool:
    return isinstance(obj, (Dictionary, Array, Stream)) and not obj.is_indirect


def _clean_dict(obj) -> None:
    for key in _DROP_KEYS:
        if key in obj:
            del obj[key]
    for key in _ACTION_KEYS:
        action = obj.get(key)
        if isinstance(action, Dictionary) and str(action.get("/S", "")) in _UNSAFE_ACTIONS:
            del obj[key]
    annots = obj.get("/Annots")
    if isinstance(annots, Array):
        kept = [a for a in annots if str(_get(a, "/Subtype")) not in _UNSAFE_ANNOTATIONS]
        if len(kept) != len(annots):
            obj["/Annots"] = Array(kept)
    if isinstance(obj, Stream) and obj.get("/Subtype") == Name.Image:
        _strip_jpeg(obj)


def _get(obj, key):
    return obj.get(key, "") if isinstance(obj, Dictionary) else ""


def _strip_jpeg(image: Stream) -> None:
    if image.get("/Filter") not in (Name.DCTDecode, Array([Name.DCTDecode])):
        return
    raw = image.read_raw_bytes()
    stripped = strip_jpeg_segments(raw)  # ValueError: not a JPEG we understand -> damaged
    if stripped != raw:
        image.write(stripped, filter=Name.DCTDecode, decode_parms=image.get("/DecodeParms"))
