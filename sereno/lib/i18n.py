"""Compile and check the Spanish and English catalogues without GNU gettext.

python -m sereno.lib.i18n compile   # .po -> .mo (run by make)
python -m sereno.lib.i18n check     # exit 1 if a message lacks its Spanish text
"""

import sys
from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def catalogues() -> list[Path]:
    return sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))


def compile_all() -> int:
    for po_path in catalogues():
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
    return 0


def missing(language: str = "es", locale_dir: Path = LOCALE_DIR) -> list[str]:
    """Messages with no translation (or a fuzzy one) in `language`."""
    gaps = []
    for po_path in locale_dir.glob(f"{language}/LC_MESSAGES/*.po"):
        for entry in polib.pofile(str(po_path)):
            if entry.obsolete:
                continue
            if entry.fuzzy or not (entry.msgstr or any(entry.msgstr_plural.values())):
                gaps.append(f"{po_path.name}: {entry.msgid!r}")
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
