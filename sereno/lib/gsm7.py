"""GSM 03.38 encoding for SMS: smart encoding, segment count and cost.

"Smart encoding" replaces only what the GSM 7-bit alphabet lacks (á→a, curly quotes →
straight, "…" → "...") so that Spanish stays in GSM-7 at 160 characters per SMS; it never
touches ñ, é, ü, ¿ or ¡, which GSM-7 has. A text that still needs another character is sent
as UCS-2 (70 characters per SMS) exactly as written.
"""

from dataclasses import dataclass

# Basic character set (one septet each) and the extension table (escape + one septet).
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENDED = "^{}\\[~]|€\f"
_BASIC = frozenset(BASIC) - {"\x1b"}
_EXTENDED = frozenset(EXTENDED)

# What GSM-7 lacks, replaced by the closest character it has (the rest goes to UCS-2).
REPLACEMENTS = {
    "á": "a", "í": "i", "ó": "o", "ú": "u", "Á": "A", "Í": "I", "Ó": "O", "Ú": "U",
    "â": "a", "ê": "e", "î": "i", "ô": "o", "û": "u", "ã": "a", "õ": "o", "ï": "i", "ë": "e",
    "ç": "Ç", "À": "A", "È": "E", "Ì": "I", "Ò": "O", "Ù": "U",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "«": '"', "»": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\t": " ",
    "\u2022": "*", "º": "o", "ª": "a",
}  # fmt: skip

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class Encoded:
    text: str  # what will be sent
    encoding: str  # "gsm7" | "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def is_gsm7(text: str) -> bool:
    return all(ch in _BASIC or ch in _EXTENDED for ch in text)


def septets(text: str) -> int:
    return sum(2 if ch in _EXTENDED else 1 for ch in text)


def smart(text: str) -> str:
    """Replace what GSM-7 lacks; leave everything else as it is."""
    return "".join(REPLACEMENTS.get(ch, ch) for ch in text)


def _ucs2_units(text: str) -> int:
    return len(text.encode("utf-16-be")) // 2


def segments_for(units: int, single: int, part: int) -> int:
    if units <= single:
        return 1
    return -(-units // part)


def encode(text: str, *, smart_encoding: bool = True) -> Encoded:
    candidate = smart(text) if smart_encoding else text
    if is_gsm7(candidate):
        units = septets(candidate)
        return Encoded(candidate, "gsm7", units, segments_for(units, GSM7_SINGLE, GSM7_PART))
    # UCS-2: send exactly what was written (replacements would only be half a fix).
    units = _ucs2_units(text)
    return Encoded(text, "ucs2", units, segments_for(units, UCS2_SINGLE, UCS2_PART))


def cost(text: str, *, price_per_segment: float, smart_encoding: bool = True) -> float:
    return encode(text, smart_encoding=smart_encoding).segments * price_per_segment
