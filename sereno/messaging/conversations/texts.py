"""Every text the conversation sends, translatable, short: one SMS (160 GSM-7 characters after
smart encoding) where possible, never more than two (tests/messaging/test_conversation_texts.py).
Call inside `translation.override(language)`. Keywords inside the texts are the ones of the
reply's language (AYUDA/HELP, BAJA/STOP, ALTA/START, ANULAR/DISCARD)."""

from django.utils.translation import gettext as _

# A typed place is echoed back shortened, so that the reply stays one SMS.
ECHO = 30


def _echo(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= ECHO else text[: ECHO - 3] + "..."


def ask_what() -> str:
    return _("Sereno: what happened? Tell us in one message. Reply HELP for help.")


def ask_where() -> str:
    return _("Where did it happen? Place and municipality, e.g. Kennedy, Tegucigalpa")


def where_unknown(typed: str) -> str:
    return _(
        'We did not find "%(typed)s". Write the municipality or department, e.g. Danlí or '
        "El Paraíso, or DONT KNOW."
    ) % {"typed": _echo(typed)}


def where_choice(labels: list[str]) -> str:
    options = " ".join(f"{n} {label}" for n, label in enumerate(labels, start=1))
    return _("Which one? Reply with the number: %(options)s 0 none") % {"options": options}


def ask_when() -> str:
    return _("When did it happen? E.g. today, yesterday, 3 days ago, 12/11")


def when_unknown() -> str:
    return _("We did not understand. When did it happen? E.g. today, yesterday, 3 days ago, 12/11")


def when_future() -> str:
    return _("That day has not come yet. When did it happen? E.g. yesterday or 12/11")


def ask_category(labels: list[str]) -> str:
    options = " ".join(f"{n} {label}" for n, label in enumerate(labels, start=1))
    return _("What kind? Send the number: %(options)s 0 not sure") % {"options": options}


def done(reference: str) -> str:
    return _(
        "Thank you. Report %(reference)s received. We check every report before publishing "
        "it; your number is never published."
    ) % {"reference": reference}


def help_text() -> str:
    return _(
        "Sereno: write what happened to report it; we ask where and when. DISCARD drops a "
        "report in progress. STOP: no more messages."
    )


def opted_out() -> str:
    return _("You will get no more messages from Sereno. Reply START to get them again.")


def opted_in() -> str:
    return _("You will get Sereno messages again. Reply STOP to stop them.")


def discarded() -> str:
    return _("Report discarded. Write to us any time to start another one.")


def language_set() -> str:
    return _("Sereno will write to you in English.")
