"""Reads about subscriptions."""

from django.db.models import Min, QuerySet

from sereno.messaging.models import Contact
from sereno.subscriptions.models import Subscription

S = Subscription.Status


def contact_subscriptions(contact: Contact) -> list[Subscription]:
    """The contact's active subscriptions, oldest first, with their zones."""
    return list(
        Subscription.objects.filter(contact=contact, status=S.ACTIVE)
        .select_related("zone")
        .order_by("created_at", "pk")
    )


def reached(zone_ids) -> QuerySet[Subscription]:
    """Active subscriptions in the given zones (ids or a subquery) of contacts who have not
    opted out."""
    return Subscription.objects.filter(
        zone_id__in=zone_ids, status=S.ACTIVE, contact__opted_out_at__isnull=True
    )


def recipients(zone_ids) -> QuerySet[Subscription]:
    """One subscription per contact (its first) among the given zones, skipping contacts who
    opted out, in contact order: who an alert over those zones goes to, on which channel and
    in which language."""
    first = reached(zone_ids).values("contact_id").annotate(first=Min("id")).values("first")
    return Subscription.objects.filter(id__in=first).order_by("contact_id")
