"""Subscribing by SMS, WhatsApp or Telegram, as the conversation router hands it over.

    ALERTAS Danlí   → "Responda SI para recibir alertas de Danlí …" → SI → active
    ALERTAS         → the contact's areas          ALERTAS NO → all of them cancelled

The place is read like the report's "where" (messaging.conversations.places: commas, a
department that narrows, a numbered choice for ambiguous names) and becomes a zone: an
imported municipality or department is its boundary (geo.zones.zone_for_area); a town or
neighbourhood, or a department without imported boundaries, a circle around it
(zone_for_place). The state between messages is a Conversation with step alerts_choice or
alerts_confirm, so it expires like any conversation; replies go through the router's `replies`
(outbox rows keyed on the inbound message, written in the routing transaction).
"""

from datetime import datetime

from django.utils import timezone, translation

from sereno.lib import gsm7
from sereno.messaging import keywords
from sereno.messaging.conversations import places
from sereno.messaging.conversations import texts as conversation_texts
from sereno.messaging.models import Conversation, InboundMessage
from sereno.subscriptions import services, texts
from sereno.subscriptions.models import Subscription

ALERTS = "alerts"
CHOICE = "alerts_choice"
CONFIRM = "alerts_confirm"  # steps start with "alerts_": how the router recognises them


def command(message: InboundMessage, rest: str, replies, expires_at: datetime) -> str:
    """ALERTAS [place | NO] from a contact with no conversation open."""
    contact = message.contact
    if not rest:
        labels = list(
            Subscription.objects.filter(contact=contact, status=Subscription.Status.ACTIVE)
            .order_by("created_at", "pk")
            .values_list("zone__label", flat=True)
        )
        if labels:
            replies.send(texts.listing, labels)
        else:
            replies.send(texts.none)
        return ALERTS
    if keywords.normalise(rest) in keywords.ALERTS_OFF:
        services.subscriptions_cancel_for(contact=contact)
        replies.send(texts.cancelled)
        return ALERTS
    found = places.resolve(rest)
    if found.unique is not None:
        _offer(message, None, found.unique, replies, expires_at)
    elif found.candidates:
        message.conversation = Conversation.objects.create(
            contact=contact,
            channel=message.channel,
            step=CHOICE,
            data={
                "choices": [c.as_data() for c in _fitting(found.candidates, replies.language)],
                "typed": rest[:200],
            },
            language=replies.language,
            expires_at=expires_at,
        )
        _ask_choice(message.conversation, replies)
    else:
        replies.send(texts.not_found, rest)
    return ALERTS


def answer(conversation: Conversation, message: InboundMessage, replies, expires_at) -> str | None:
    """The answer to an open alerts question; None when the message is not one (the
    conversation is then closed and the router treats the message as any other)."""
    message.conversation = conversation
    key = keywords.normalise(message.text)
    if conversation.step == CONFIRM:
        return _on_confirm(conversation, key, replies)
    if key.isdigit():
        return _on_choice(conversation, message, int(key), replies, expires_at)
    found = places.resolve(message.text or "")
    if found.exact and found.candidates:  # another place name instead of a number
        _close(conversation, Conversation.Status.CANCELLED)
        message.conversation = None
        return command(message, message.text.strip(), replies, expires_at)
    _close(conversation, Conversation.Status.CANCELLED)
    message.conversation = None
    return None


def _on_confirm(conversation, key, replies) -> str | None:
    subscription = Subscription.objects.filter(pk=conversation.data.get("subscription")).first()
    label = conversation.data.get("label", "")
    if key in keywords.YES and subscription is not None:
        if subscription.status == Subscription.Status.CANCELLED:
            subscription = services.subscription_request(
                contact=subscription.contact,
                channel=subscription.channel,
                zone=subscription.zone,
                language=conversation.language,
                source=Subscription.Source.MESSAGE,
            )
        services.subscription_activate(subscription=subscription)
        _close(conversation, Conversation.Status.COMPLETED)
        replies.send(texts.activated, label)
        return ALERTS
    if key in keywords.NO:
        if subscription is not None and subscription.status == Subscription.Status.PENDING:
            services.subscription_cancel(subscription=subscription)
        _close(conversation, Conversation.Status.CANCELLED)
        replies.send(texts.declined)
        return ALERTS
    _close(conversation, Conversation.Status.CANCELLED)
    return None


def _on_choice(conversation, message, number, replies, expires_at) -> str:
    choices = conversation.data.get("choices", [])
    if number == 0:
        _close(conversation, Conversation.Status.CANCELLED)
        replies.send(texts.declined)
    elif 1 <= number <= len(choices):
        chosen = places.Candidate.from_data(choices[number - 1])
        _offer(message, conversation, chosen, replies, expires_at)
    else:
        _ask_choice(conversation, replies)
    return ALERTS


def _fitting(candidates: list, language: str) -> list:
    """As many choices as fit one SMS (at least two; the most populous first): a name that
    is not offered is reached by adding its department ("San Francisco, Lempira")."""
    shown = list(candidates)
    with translation.override(language):
        while len(shown) > 2:
            text = conversation_texts.where_choice([c.label() for c in shown])
            if gsm7.encode(text).segments == 1:
                break
            shown.pop()
    return shown


def _ask_choice(conversation, replies) -> None:
    choices = [places.Candidate.from_data(c) for c in conversation.data.get("choices", [])]
    replies.send(lambda: conversation_texts.where_choice([c.label() for c in choices]))


def _offer(message, conversation, candidate, replies, expires_at) -> None:
    """Ask to confirm the subscription to the candidate's zone (pending until SI)."""
    zone = services.zone_for_candidate(candidate)
    subscription = services.subscription_request(
        contact=message.contact,
        channel=message.channel,
        zone=zone,
        language=replies.language,
        source=Subscription.Source.MESSAGE,
        expires_at=expires_at,
    )
    label = _label(candidate)
    if subscription.status == Subscription.Status.ACTIVE:
        if conversation is not None:
            _close(conversation, Conversation.Status.COMPLETED)
        replies.send(texts.already, label)
        return
    data = {"subscription": subscription.pk, "label": label}
    if conversation is None:
        conversation = Conversation.objects.create(
            contact=message.contact,
            channel=message.channel,
            step=CONFIRM,
            data=data,
            language=replies.language,
            expires_at=expires_at,
        )
    else:
        conversation.step, conversation.data, conversation.expires_at = CONFIRM, data, expires_at
        conversation.save(update_fields=["step", "data", "expires_at", "updated_at"])
    message.conversation = conversation
    replies.send(texts.confirm, label)


def _label(candidate: places.Candidate) -> str:
    if candidate.precision == "place":
        return candidate.name
    return candidate.label()


def _close(conversation: Conversation, status: str) -> None:
    Conversation.objects.filter(pk=conversation.pk, status=Conversation.Status.OPEN).update(
        status=status, updated_at=timezone.now()
    )
    conversation.status = status
