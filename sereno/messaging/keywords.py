"""Keywords people send by SMS or chat, in Spanish and English, and the one normalisation that
reads them: case, accents and surrounding punctuation ignored ("¡Baja!" is BAJA, "sí" is SI).

A message is a keyword only when the *whole* message is the keyword: "alto el fuego en la
colonia" is a report, not an opt-out. The lists are not translated (a Spanish speaker on an
English-configured server still types BAJA); see docs/conversations.md.
"""

import re
import unicodedata

# Opt-out: honoured at once on every channel sharing the address (SMS and WhatsApp).
OPT_OUT = frozenset(
    {"baja", "alto", "parar", "cancelar", "detener", "salir"}
    | {"stop", "stopall", "unsubscribe", "cancel", "end", "quit"}
)
# Opt-in: only means something to a contact who opted out.
OPT_IN = frozenset({"alta", "si", "start"})
HELP = frozenset({"ayuda", "help", "info"})
# Start a report (also what any other first message does).
REPORT = frozenset({"reporte", "reportar", "denuncia", "denunciar", "report"})
# Drop the report being collected, without opting out. CANCELAR and SALIR cannot be used for
# this: they are opt-out words people already know from carriers and other services.
DISCARD = frozenset({"anular", "borrar", "discard"})
# Greetings carry no content: a first "Hola" asks what happened instead of becoming the report.
GREETING = frozenset(
    {"hola", "buenas", "buenos dias", "buenas tardes", "buenas noches", "hello", "hi", "hey"}
)
# Switch the language of every later message.
LANGUAGE = {"english": "en", "ingles": "en", "espanol": "es", "spanish": "es"}
# Early-warning subscriptions: "ALERTAS Danlí" subscribes, "ALERTAS" lists, "ALERTAS NO"
# cancels them (see sereno/subscriptions/dialogue.py). The word gives the reply's language.
ALERTS = {"alertas": "es", "alerta": "es", "alerts": "en", "alert": "en"}
ALERTS_OFF = frozenset({"no", "off", "baja", "stop", "fin", "end", "cancelar", "cancel"})
# Answers to "Reply YES to get alerts for …".
YES = frozenset({"si", "yes", "ok", "s", "y"})
NO = frozenset({"no", "n"})
# "I don't know" where a place is asked.
UNKNOWN = frozenset({"no se", "nose", "no lo se", "ns", "dont know", "do not know", "unknown"})

# Which language a keyword is in (for choosing the language of a new contact's replies).
ENGLISH_KEYWORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "start", "help", "info"}
    | {"report", "discard", "hello", "hi", "hey", "english", "alerts", "alert"}
)
SPANISH_KEYWORDS = (
    OPT_OUT | OPT_IN | HELP | REPORT | DISCARD | GREETING | {"alertas", "alerta"}
) - ENGLISH_KEYWORDS

_EDGES = re.compile(r"^[\W_]+|[\W_]+$")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The comparable form of a message: no accents, no case, no punctuation at either end,
    single spaces ("  ¡Sí! " → "si", "BAJA." → "baja", "don't know" → "dont know")."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("'", "").replace("\u2019", "")
    text = _SPACES.sub(" ", text).strip()
    return _EDGES.sub("", text)


def keyword(text: str) -> str:
    """The normalised message if it is one of the known keywords, else ""."""
    key = normalise(text)
    known = OPT_OUT | OPT_IN | HELP | REPORT | DISCARD | GREETING | UNKNOWN
    return key if key in known or key in LANGUAGE or key in ALERTS else ""


def alerts_command(text: str) -> tuple[str, str] | None:
    """(language, what follows) when the message starts with ALERTAS/ALERTS, else None:
    "ALERTAS: Danlí" → ("es", "Danlí"), "alerts" → ("en", "")."""
    parts = (text or "").split(maxsplit=1)
    language = ALERTS.get(normalise(parts[0])) if parts else None
    if language is None:
        return None
    return language, parts[1].strip() if len(parts) > 1 else ""


def is_opt_out(text: str) -> bool:
    return normalise(text) in OPT_OUT


def is_opt_in(text: str) -> bool:
    return normalise(text) in OPT_IN


def is_help(text: str) -> bool:
    return normalise(text) in HELP


# Small, frequent words that tell Spanish and English apart in a first message.
_ENGLISH_WORDS = frozenset(
    "the was were is are in on at my his her their they he she it there and of to with "
    "yesterday today last night someone people".split()
)
_SPANISH_WORDS = frozenset(
    "el la los las un una de del en y que fue por con mi su hay ayer hoy anoche alguien "
    "personas esta estan se le les".split()
)


def guess_language(text: str) -> str:
    """'en', 'es', or '' when the text does not say. Simple and predictable on purpose: an
    English keyword, or more English than Spanish small words, is English; a Spanish keyword,
    or more Spanish small words, is Spanish; anything else (a place name, a number) says
    nothing and the contact's language stays."""
    key = normalise(text)
    if key in LANGUAGE:
        return LANGUAGE[key]
    if key in ENGLISH_KEYWORDS:
        return "en"
    if key in SPANISH_KEYWORDS:
        return "es"
    words = re.findall(r"[a-z]+", key)
    english = sum(word in _ENGLISH_WORDS for word in words)
    spanish = sum(word in _SPANISH_WORDS for word in words)
    if english > spanish:
        return "en"
    if spanish > english:
        return "es"
    return ""
