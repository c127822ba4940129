"""Compile and check the Spanish and English catalogues without GNU gettext.

Strings are written in English in the code; Spanish lives in catalogues: the project's
(`sereno/locale`) and one per app that has its own `locale/` folder (makemessages puts each
app's strings there), so that work on different apps never edits the same file.

python -m sereno.lib.i18n compile   # .po -> .mo (run by make)
python -m sereno.lib.i18n check     # exit 1 if a message lacks its Spanish text
"""

import sys
from pathlib import Path

import polib

PACKAGE_DIR = Path(__file__).resolve().parent.parent
LOCALE_DIR = PACKAGE_DIR / "locale"


def catalogues(root: Path = PACKAGE_DIR, language: str = "*") -> list[Path]:
    """The project catalogue and every app's (`<app>/locale/<lang>/LC_MESSAGES/*.po`)."""
    found = set(root.glob(f"locale/{language}/LC_MESSAGES/*.po"))
    found.update(root.glob(f"*/locale/{language}/LC_MESSAGES/*.po"))
    return sorted(found)


def compile_all() -> int:
    for po_path in catalogues():
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
    return 0


def missing(language: str = "es", root: Path = PACKAGE_DIR) -> list[str]:
    """Messages with no translation (or a fuzzy one) in `language`, in every catalogue."""
    gaps = []
    for po_path in catalogues(root, language):
        for entry in polib.pofile(str(po_path)):
            if entry.obsolete:
                continue
            if entry.fuzzy or not (entry.msgstr or any(entry.msgstr_plural.values())):
                gaps.append(f"{po_path.relative_to(root)}: {entry.msgid!r}")
    return gaps


def main(argv: list[str]) -> int:
    if argv[:1] == ["compile"]:
        return compile_all()
    if argv[:1] == ["check"]:
        gaps = missing("es")
        print("\n".join(gaps) or "catalogues complete")
        return 1 if gaps else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
