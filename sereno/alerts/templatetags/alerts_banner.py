"""{% alerts_banner %}: the current alerts above the public map, each linking to its page."""

from django import template

from sereno.alerts.selectors import banner_alerts
from sereno.alerts.texts import alert_texts

register = template.Library()


@register.inclusion_tag("alerts/_banner.html")
def alerts_banner():
    return {"alerts": [(alert, alert_texts(alert)) for alert in banner_alerts()]}
