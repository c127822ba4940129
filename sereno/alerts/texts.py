"""An alert's texts in one language: English falls back to Spanish field by field."""

from django.utils.translation import get_language

from sereno.alerts.models import Alert

FIELDS = ("event", "headline", "description", "instruction", "area_desc")


def has_english(alert: Alert) -> bool:
    return any(getattr(alert, f"{name}_en") for name in FIELDS)


def alert_texts(alert: Alert, language: str | None = None) -> dict[str, str]:
    language = (language or get_language() or "es")[:2]
    texts = {name: getattr(alert, f"{name}_es") for name in FIELDS}
    if language == "en":
        texts.update({n: getattr(alert, f"{n}_en") for n in FIELDS if getattr(alert, f"{n}_en")})
    return texts
