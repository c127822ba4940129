"""The texts subscribers receive. Call inside `translation.override(language)`. Every SMS text
fits one segment (160 GSM-7 characters after smart encoding) in both languages with the
longest values it can carry (tests/subscriptions/test_texts.py); keywords inside a text are the
ones of its language (ALERTAS/ALERTS, SI/YES, BAJA/STOP)."""

from django.utils.translation import gettext as _

from sereno.lib import gsm7

# A place name is echoed shortened, so that the reply stays one SMS.
ECHO = 30


def echo(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= ECHO else text[: ECHO - 3] + "..."


def confirm(place: str) -> str:
    return _("Reply YES to get alerts for %(place)s. To stop them later: ALERTS OFF") % {
        "place": echo(place)
    }


def activated(place: str) -> str:
    return _(
        "Done: you will get alerts for %(place)s. ALERTS lists your areas, ALERTS OFF cancels them."
    ) % {"place": echo(place)}


def already(place: str) -> str:
    return _("You already get alerts for %(place)s. ALERTS OFF cancels them.") % {
        "place": echo(place)
    }


def declined() -> str:
    return _("No alerts were set up. Write ALERTS and a place whenever you like.")


def not_found(typed: str) -> str:
    return _(
        'We did not find "%(typed)s". Write ALERTS and your municipality or neighbourhood, '
        "e.g. ALERTS Danlí"
    ) % {"typed": echo(typed)}


def none() -> str:
    return _(
        "You get no alerts. Write ALERTS and your municipality or neighbourhood, e.g. ALERTS Danlí"
    )


def listing(places: list[str]) -> str:
    """The contact's areas, as many as fit one SMS, then "+N"."""
    shown = [echo(p) for p in places]
    while shown:
        hidden = len(places) - len(shown)
        names = "; ".join(shown) + (f" +{hidden}" if hidden else "")
        text = _("Your alerts: %(places)s. ALERTS OFF cancels them.") % {"places": names}
        if gsm7.encode(text).segments == 1:
            return text
        shown.pop()
    return _("Your alerts: %(places)s. ALERTS OFF cancels them.") % {"places": f"+{len(places)}"}


def cancelled() -> str:
    return _("Your alerts are cancelled. Write ALERTS and a place to get them again.")


def finish_report_first() -> str:
    return _("First finish your report, or send DISCARD to drop it; then send ALERTS again.")


def web_code(code: str) -> str:
    return _(
        "Sereno: your code to confirm the alerts is %(code)s. It expires in 15 minutes. "
        "If you did not ask for it, ignore this message."
    ) % {"code": code}


def web_email(place: str, confirm_url: str, unsubscribe_url: str) -> str:
    return _(
        "Hello,\n\nSomeone (we hope you) asked Sereno to send early-warning alerts about "
        "%(place)s to this address. To confirm, open this link within 48 hours:\n\n"
        "%(confirm)s\n\nIf it was not you, ignore this message: nothing will be sent.\n\n"
        "To stop these alerts at any time: %(unsubscribe)s\n"
    ) % {"place": place, "confirm": confirm_url, "unsubscribe": unsubscribe_url}
