"""When it happened, from what people write: hoy, ayer, anteayer, "hace 3 días", 12/11,
12/11/2026, today, yesterday, "3 days ago", a weekday ("el lunes"). Day/month order, as in
Honduras. Only past days and today; the day is all we claim (precision "day")."""

import re
from datetime import date, timedelta

from sereno.messaging.keywords import normalise

TODAY = {"hoy", "today", "ahora", "ahorita", "now", "hace rato", "esta manana", "esta tarde",
         "esta noche", "this morning", "tonight", "this afternoon", "just now"}  # fmt: skip
YESTERDAY = {"ayer", "yesterday", "anoche", "last night", "ayer en la noche", "ayer noche"}
BEFORE_YESTERDAY = {"anteayer", "antier", "antes de ayer", "antes de anoche",
                    "day before yesterday", "the day before yesterday"}  # fmt: skip
WEEKDAYS = {
    "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5,
    "domingo": 6, "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6,
}  # fmt: skip
NUMBERS = {"un": 1, "una": 1, "uno": 1, "a": 1, "one": 1, "dos": 2, "two": 2, "tres": 3,
           "three": 3, "cuatro": 4, "four": 4, "cinco": 5, "five": 5, "seis": 6, "six": 6,
           "siete": 7, "seven": 7, "ocho": 8, "eight": 8, "nueve": 9, "nine": 9, "diez": 10,
           "ten": 10}  # fmt: skip
UNITS = {"dia": 1, "dias": 1, "day": 1, "days": 1, "semana": 7, "semanas": 7, "week": 7,
         "weeks": 7, "hora": 0, "horas": 0, "hour": 0, "hours": 0, "minutos": 0,
         "minutes": 0}  # fmt: skip

_DATE = re.compile(r"\b(\d{1,2})\s*[/.\-]\s*(\d{1,2})(?:\s*[/.\-]\s*(\d{2,4}))?\b")
_AGO_ES = re.compile(r"\bhace\s+(\w+)\s+(\w+)\b")
_AGO_EN = re.compile(r"\b(\w+)\s+(\w+)\s+ago\b")
_FILLER = re.compile(r"\b(el|la|este|esta|pasado|pasada|on|last|this|past)\b")


class Future(ValueError):
    """The date has not come yet."""


def _count(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    return NUMBERS.get(word)


def _ago(key: str) -> int | None:
    for pattern in (_AGO_ES, _AGO_EN):
        match = pattern.search(key)
        if match:
            amount, unit = _count(match.group(1)), UNITS.get(match.group(2))
            if amount is not None and unit is not None:
                return amount * unit
    return None


def _explicit(match: re.Match, today: date) -> date | None:
    day, month, year = int(match.group(1)), int(match.group(2)), match.group(3)
    try:
        if year is None:
            found = date(today.year, month, day)
            # "12/11" in January means last November.
            return found if found <= today else date(today.year - 1, month, day)
        number = int(year)
        return date(number + 2000 if number < 100 else number, month, day)
    except ValueError:
        return None


def parse_day(text: str, *, today: date) -> date | None:
    """The day `text` names, None if it names none; raises Future for a day still to come."""
    key = normalise(text)
    if not key:
        return None
    match = _DATE.search(key)
    if match:
        found = _explicit(match, today)
        if found is not None and found > today:
            raise Future
        return found if found is not None and found.year >= 1990 else None
    bare = _FILLER.sub(" ", key)
    bare = " ".join(bare.split())
    for phrases, days in ((BEFORE_YESTERDAY, 2), (YESTERDAY, 1), (TODAY, 0)):
        if key in phrases or bare in phrases or any(_word_in(p, key) for p in phrases):
            return today - timedelta(days=days)
    days = _ago(key)
    if days is not None:
        return today - timedelta(days=days)
    for word in bare.split():
        if word in WEEKDAYS:
            # The most recent such day, today included ("el lunes" said on a Monday: today).
            return today - timedelta(days=(today.weekday() - WEEKDAYS[word]) % 7)
    return None


def _word_in(phrase: str, key: str) -> bool:
    return re.search(rf"\b{re.escape(phrase)}\b", key) is not None
