"""Why a file ended as it did, in words for recipients (and sources), by a stable code.

Callers store the code and show `REASONS[code]` in the reader's language.
"""

from django.utils.translation import gettext_lazy as _

REASONS = {
    # cleaned
    "image": _(
        "The image was redrawn from its pixels: location (GPS), camera, dates and other "
        "hidden data were removed."
    ),
    "pdf": _(
        "Document properties, XMP metadata, scripts, automatic actions, links, attached files "
        "and photo metadata were removed from the PDF."
    ),
    "office": _(
        "Document properties (author, company, dates, template), comment authors, revision "
        "identifiers, external links and photo metadata were removed."
    ),
    "office_embedded": _(
        "Document properties (author, company, dates, template), comment authors, revision "
        "identifiers, external links and photo metadata were removed. Objects embedded in the "
        "document (for example a spreadsheet inside it) keep their own properties."
    ),
    "text": _(
        "Plain text has no hidden data to remove; the words themselves may still identify "
        "the source."
    ),
    # not cleanable: the original stays encrypted, marked as not cleaned
    "video": _(
        "Videos cannot be cleaned: they may reveal the phone, the date and the place where "
        "they were recorded. Open the original with care."
    ),
    "audio": _(
        "Audio files cannot be cleaned: they may reveal the device and the date of the "
        "recording. Open the original with care."
    ),
    "archive": _(
        "Compressed archives are not opened or cleaned. Open the original with care, on a "
        "computer without a network connection."
    ),
    "heic": _(
        "This server cannot read HEIC photos, so this one was not cleaned. Open the original "
        "with care: it may reveal where it was taken."
    ),
    "pdf_encrypted": _("This PDF is protected by a password, so it could not be cleaned."),
    "macros": _(
        "This document contains macros (programs), so it was not cleaned. Do not enable "
        "macros when you open the original."
    ),
    "damaged": _("This file is damaged or not what it claims to be, so it could not be cleaned."),
    "too_large": _("This file is too large to be checked and cleaned."),
    "empty": _("The file is empty."),
    "failed": _("Cleaning failed: only the original was kept. Open it with care."),
    "unknown": _(
        "This kind of file cannot be cleaned. Open the original with care: it may carry "
        "hidden data about its author."
    ),
    # rejected: hostile input
    "image_bomb": _(
        "The image declares far too many pixels (a “decompression bomb”): it was refused."
    ),
    "archive_bomb": _(
        "The compressed file expands to far more than its size (a “zip bomb”): it was refused."
    ),
    "archive_entries": _("The compressed file holds too many entries: it was refused."),
    "archive_names": _(
        "The compressed file holds entries with dangerous names (for example “../”): it was "
        "refused."
    ),
}
