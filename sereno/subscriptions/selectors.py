"""Reads about subscriptions."""

from collections.abc import Iterable, Iterator

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


def recipients(zone_ids: Iterable[int]) -> Iterator[Subscription]:
    """One active subscription per contact (the oldest) among the given zones, skipping
    contacts who opted out: who an alert over those zones goes to, in contact order."""
    rows = (
        Subscription.objects.filter(
            zone_id__in=list(zone_ids), status=S.ACTIVE, contact__opted_out_at__isnull=True
        )
        .order_by("contact_id", "created_at", "pk")
        .only("pk", "contact_id", "channel_id", "language", "zone_id")
    )
    last = None
    for subscription in rows.iterator(chunk_size=2_000):
        if subscription.contact_id != last:
            last = subscription.contact_id
            yield subscription
