"""What an inbound message is, decided in one place: `route(message) -> outcome`.

Called by `services.inbound_route_pending` (a batch's transaction) or
`services.inbound_route_contact` (a savepoint per message); every reply is an outbox row in that
same transaction, keyed "reply:<message id>:<n>", so a message processed again (after a crash)
never sends a second reply, and the report a conversation creates is keyed "conversation:<id>"
so it is never created twice.

Order (the first that applies wins; see docs/conversations.md):
1. opt-out keyword (BAJA, STOP, …) → opted out everywhere, one confirmation;
2. opt-in keyword (ALTA, SI, START) from an opted-out contact → opted in, one confirmation;
3. AYUDA/HELP → the help text (and the pending question again);
4. ENGLISH/ESPAÑOL → the contact's language changes;
5. anything else from an opted-out contact → kept (and shown to staff if it answers them),
   never answered;
6. ALERTAS/ALERTS [place | NO] → subscriptions to early-warning alerts, and the answers to
   their questions (sereno.subscriptions.dialogue); during a report: finish it first;
7. an open conversation → the answer to its question (ANULAR/DISCARD drops it, REPORTE starts
   over);
8. a staff message about a report in the last STAFF_REPLY_DAYS days → a reply to staff,
   attached to that report and shown in the desk, not answered by SMS;
9. otherwise a new report: what happened → where → when → what kind → report created.
"""

import functools
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from sereno.lib.db import by_ids, column, insert, marks, select_in, table
from sereno.messaging import keywords, outbox
from sereno.messaging.conversations import dates, places, texts
from sereno.messaging.models import (
    Channel,
    Contact,
    Conversation,
    InboundMessage,
    OutboundMessage,
)

NEW_REPORT = "new_report"
ANSWER = "answer"
STAFF_REPLY = "staff_reply"
OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"
LANGUAGE = "language"
DISCARDED = "discarded"
IGNORED = "ignored"
ALERTS = "alerts"
ALERTS_STEP = "alerts_"  # the subscription dialogue's steps (sereno.subscriptions.dialogue)

# Channel kind → the report's channel.
REPORT_CHANNEL = {
    "kannel": "sms", "twilio_sms": "sms", "smssync": "sms", "twilio_whatsapp": "whatsapp",
    "whatsapp": "whatsapp", "telegram": "telegram", "email": "email",
}  # fmt: skip
TITLE_LENGTH = 80


def idle_timeout() -> timedelta:
    return timedelta(minutes=getattr(settings, "CONVERSATION_IDLE_MINUTES", 120))


def staff_reply_window() -> timedelta:
    return timedelta(days=getattr(settings, "CONVERSATION_STAFF_REPLY_DAYS", 14))


class _Replies:
    """Replies to one inbound message, numbered so that each is written at most once."""

    def __init__(self, message: InboundMessage, language: str):
        self.message = message
        self.language = language
        self.count = 0

    def send(self, render, *args, report=None, even_if_opted_out: bool = False) -> None:
        with translation.override(self.language):
            text = render(*args)
        outbox.enqueue(
            contact=self.message.contact,
            text=text,
            cause="conversation",
            channel=self.message.channel,
            dedupe_key=f"reply:{self.message.pk}:{self.count}",
            in_reply_to=self.message,
            report=report,
            even_if_opted_out=even_if_opted_out,
        )
        self.count += 1


class Prefetched:
    """What a batch router read for many contacts at once (their open conversation, the
    report staff last wrote them about), each used for the contact's first message only:
    routing it may change both, so a later message of the same contact reads them again."""

    def __init__(self, contact_ids, now: datetime, *, channels: dict | None = None):
        """`channels`: {id: Channel} the batch has read already (others are read here)."""
        contact_ids = list(contact_ids)
        n, vendor = len(contact_ids), connection.vendor
        self.conversations: dict[int, Conversation | None] = dict.fromkeys(contact_ids)
        sql = select_in(Conversation, "contact", n, equal=("status",))
        found = list(Conversation.objects.raw(sql, [*contact_ids, Conversation.Status.OPEN]))
        channels = dict(channels or {})
        channels.update(by_ids(Channel, {c.channel_id for c in found} - set(channels)))
        for conversation in found:
            conversation.channel = channels[conversation.channel_id]
            self.conversations[conversation.contact_id] = conversation
        self.staff_reports: dict[int, int | None] = dict.fromkeys(contact_ids)
        since = connection.ops.adapt_datetimefield_value(now - staff_reply_window())
        with connection.cursor() as cursor:
            cursor.execute(_staff_reports_sql(vendor, n), [*contact_ids, "staff_reply", since])
            for contact_id, report_id in cursor.fetchall():  # the latest wins
                self.staff_reports[contact_id] = report_id

    def conversation(self, contact_id: int):
        return self.conversations.pop(contact_id, _UNKNOWN)

    def staff_report(self, contact_id: int):
        return self.staff_reports.pop(contact_id, _UNKNOWN)

    def forget(self, contact_id: int) -> None:
        self.conversations.pop(contact_id, None)
        self.staff_reports.pop(contact_id, None)


_UNKNOWN = object()


# Prefetched's statements are written once per number of contacts: at a steady pace batches
# are small, and the ORM compiling them again cost more than running them.
@functools.lru_cache(maxsize=512)
def _staff_reports_sql(vendor: str, contacts: int) -> str:
    """(contact id, report id) of staff messages about a report since a time, oldest first."""
    pk, contact, report, cause, created = (
        column(OutboundMessage, name) for name in ("pk", "contact", "report", "cause", "created_at")
    )
    # Names come from the model's metadata; ids, cause and time are parameters.
    return (
        f"SELECT {contact}, {report} FROM {table(OutboundMessage)}"  # noqa: S608
        f" WHERE {contact} IN ({marks(contacts)}) AND {cause} = %s"
        f" AND {report} IS NOT NULL AND {created} >= %s ORDER BY {contact}, {created}, {pk}"
    )


def route(
    message: InboundMessage, *, contact_locked: bool = False, prefetched: Prefetched | None = None
) -> str:
    # One contact's messages are routed one at a time (the row lock waits on PostgreSQL;
    # SQLite's write lock already serialises), so two quick answers never race.
    # `services.inbound_route_contact` already holds the lock and passes the contact.
    if contact_locked:
        contact = message.contact
    else:
        contact = Contact.objects.select_for_update().get(pk=message.contact_id)
        message.contact = contact
    text = (message.text or "").strip()
    key = keywords.normalise(text)
    now = timezone.now()
    try:
        return _route(message, contact, text, key, now, prefetched)
    finally:
        if prefetched is not None:
            prefetched.forget(contact.pk)


def _route(message, contact, text, key, now, prefetched) -> str:
    conversation = _open_conversation(contact, now, prefetched)
    guessed = keywords.guess_language(text)

    if key in keywords.OPT_OUT:
        replies = _Replies(message, _remember_language(contact, guessed))
        if conversation is not None:
            _close(conversation, Conversation.Status.CANCELLED)
        from sereno.messaging.services import contact_opt_out

        if contact_opt_out(contact=contact):
            replies.send(texts.opted_out, even_if_opted_out=True)
        return OPT_OUT
    if key in keywords.OPT_IN and contact.opted_out:
        from sereno.messaging.services import contact_opt_in

        replies = _Replies(message, _remember_language(contact, guessed))
        contact_opt_in(contact=contact)
        replies.send(texts.opted_in)
        return OPT_IN
    if key in keywords.HELP:
        language = guessed or (conversation.language if conversation else contact.language)
        replies = _Replies(message, language)
        replies.send(texts.help_text, even_if_opted_out=True)
        if conversation is not None:
            message.conversation = conversation
            _ask(conversation, replies)
        return HELP
    if key in keywords.LANGUAGE:
        language = _remember_language(contact, keywords.LANGUAGE[key])
        replies = _Replies(message, language)
        replies.send(texts.language_set)
        if conversation is not None:
            message.conversation = conversation
            conversation.language = language
            conversation.save(update_fields=["language", "updated_at"])
            _ask(conversation, replies)
        return LANGUAGE
    if contact.opted_out:
        return STAFF_REPLY if _attach_to_staff_thread(message, now, prefetched) else IGNORED

    alerts = keywords.alerts_command(text)
    if conversation is not None and conversation.step.startswith(ALERTS_STEP):
        outcome = _alerts_answer(conversation, message, alerts, now)
        if outcome:
            return outcome
        conversation = None  # not an answer: the message is routed as any other
    if alerts is not None:
        return _alerts(message, conversation, alerts, now)

    if conversation is not None:
        replies = _Replies(message, conversation.language)
        if key in keywords.DISCARD:
            message.conversation = conversation
            _close(conversation, Conversation.Status.CANCELLED)
            replies.send(texts.discarded)
            return DISCARDED
        if key not in keywords.REPORT:
            message.conversation = conversation
            return _answer(conversation, message, replies, now)
        _close(conversation, Conversation.Status.CANCELLED)  # REPORTE: start over
    if key in keywords.DISCARD:
        _Replies(message, contact.language).send(texts.discarded)
        return DISCARDED
    if key not in keywords.REPORT and _attach_to_staff_thread(message, now, prefetched):
        return STAFF_REPLY
    return _start(message, text, key, _remember_language(contact, guessed), now)


def conversations_expire(*, now: datetime | None = None) -> int:
    """Close idle conversations (periodic). The next message from their contact starts a new
    report. Returns how many were closed."""
    now = now or timezone.now()
    return Conversation.objects.filter(status=Conversation.Status.OPEN, expires_at__lte=now).update(
        status=Conversation.Status.EXPIRED
    )


def _alerts_answer(conversation, message, alerts, now) -> str | None:
    from sereno.subscriptions import dialogue

    if alerts is not None:  # a new ALERTAS command replaces the open question
        _close(conversation, Conversation.Status.CANCELLED)
        return None
    replies = _Replies(message, conversation.language)
    return dialogue.answer(conversation, message, replies, now + idle_timeout())


def _alerts(message, conversation, command, now) -> str:
    """ALERTAS / ALERTS: subscriptions to early-warning alerts (sereno.subscriptions)."""
    from sereno.subscriptions import dialogue
    from sereno.subscriptions import texts as subscription_texts

    language, rest = command
    replies = _Replies(message, _remember_language(message.contact, language))
    if conversation is not None:  # a report in progress is never dropped by surprise
        message.conversation = conversation
        replies.send(subscription_texts.finish_report_first)
        _ask(conversation, replies)
        return ALERTS
    return dialogue.command(message, rest, replies, now + idle_timeout())


# --- state ---------------------------------------------------------------------------------------


def _open_conversation(contact: Contact, now: datetime, prefetched=None) -> Conversation | None:
    conversation = prefetched.conversation(contact.pk) if prefetched else _UNKNOWN
    if conversation is _UNKNOWN:
        conversation = Conversation.objects.filter(
            contact=contact, status=Conversation.Status.OPEN
        ).first()
    if conversation is not None and conversation.expires_at <= now:
        # Lazily, as the periodic task would have: the message starts a new report.
        _close(conversation, Conversation.Status.EXPIRED)
        return None
    return conversation


def _close(conversation: Conversation, status: str) -> None:
    Conversation.objects.filter(pk=conversation.pk, status=Conversation.Status.OPEN).update(
        status=status
    )
    conversation.status = status


def _remember_language(contact: Contact, language: str) -> str:
    """Keep a language the contact's message showed; return the one to answer in."""
    if language and language != contact.language:
        Contact.objects.filter(pk=contact.pk).update(language=language)
        contact.language = language
    return contact.language or "es"


def _save(conversation: Conversation, now: datetime, step: str | None = None) -> None:
    if step is not None:
        conversation.step = step
    conversation.expires_at = now + idle_timeout()
    conversation.save(update_fields=["step", "data", "expires_at", "updated_at"])


def _attach_to_staff_thread(message: InboundMessage, now: datetime, prefetched=None) -> bool:
    """A reporter answering staff: the message joins the report staff wrote about."""
    report_id = prefetched.staff_report(message.contact_id) if prefetched else _UNKNOWN
    if report_id is _UNKNOWN:
        report_id = (
            OutboundMessage.objects.filter(
                contact_id=message.contact_id,
                cause="staff_reply",
                report__isnull=False,
                created_at__gte=now - staff_reply_window(),
            )
            .order_by("-created_at", "-id")
            .values_list("report_id", flat=True)
            .first()
        )
    if report_id is None:
        return False
    message.report_id = report_id
    return True


# --- the questions -------------------------------------------------------------------------------


def _start(message: InboundMessage, text: str, key: str, language: str, now: datetime) -> str:
    what = _content(text, key)
    # One INSERT with the first answer already in it (no UPDATE after).
    conversation = Conversation(
        contact=message.contact,
        channel=message.channel,
        step="where" if what else "what",
        data={"what": what} if what else {},
        language=language,
        expires_at=now + idle_timeout(),
    )
    insert(conversation)
    message.conversation = conversation
    replies = _Replies(message, language)
    _ask(conversation, replies)
    return NEW_REPORT


def _content(text: str, key: str) -> str:
    """What a first message says beyond a keyword ("REPORTE balacera en …" → "balacera en …")."""
    if keywords.keyword(text):
        return ""
    first, _space, rest = text.partition(" ")
    if keywords.normalise(first) in keywords.REPORT:
        return rest.strip()
    return text


def _ask(conversation: Conversation, replies: _Replies) -> None:
    """(Re)send the question the conversation is waiting on."""
    step = conversation.step
    if step == "what":
        replies.send(texts.ask_what)
    elif step == "where":
        replies.send(texts.ask_where)
    elif step == "where_choice":
        choices = [places.Candidate.from_data(c) for c in conversation.data.get("choices", [])]
        replies.send(lambda: texts.where_choice([c.label() for c in choices]))
    elif step == "when":
        replies.send(texts.ask_when)
    elif step in ("category", "subcategory"):
        options = _category_options(conversation)
        replies.send(
            lambda: texts.ask_category([c.name(translation.get_language()) for c in options])
        )


def _answer(conversation, message, replies, now) -> str:
    step = conversation.step
    handler = {
        "what": _on_what,
        "where": _on_where,
        "where_choice": _on_where_choice,
        "when": _on_when,
        "category": _on_category,
        "subcategory": _on_subcategory,
    }.get(step, _on_what)
    handler(conversation, message, replies, now)
    return ANSWER


def _on_what(conversation, message, replies, now) -> None:
    text = (message.text or "").strip()
    if not text or keywords.keyword(text):
        _save(conversation, now, "what")
    else:
        conversation.data["what"] = text
        _save(conversation, now, "where")
    _ask(conversation, replies)


def _on_where(conversation, message, replies, now) -> None:
    text = (message.text or "").strip()
    data = conversation.data
    if keywords.normalise(text) in keywords.UNKNOWN:
        data["where"] = None
        _save(conversation, now, "when")
        _ask(conversation, replies)
        return
    data["where_typed"] = text[:200]
    found = places.resolve(text)
    if found.unique is not None:
        data["where"] = found.unique.as_data()
        _save(conversation, now, "when")
        _ask(conversation, replies)
    elif found.candidates:
        data["choices"] = [c.as_data() for c in found.candidates]
        _save(conversation, now, "where_choice")
        _ask(conversation, replies)
    else:
        data["where_tries"] = data.get("where_tries", 0) + 1
        _save(conversation, now, "where")
        replies.send(texts.where_unknown, text)


def _on_where_choice(conversation, message, replies, now) -> None:
    key = keywords.normalise(message.text)
    data = conversation.data
    choices = data.get("choices", [])
    if not key.isdigit():
        _on_where(conversation, message, replies, now)  # a new place name instead
        return
    number = int(key)
    if number == 0:
        _save(conversation, now, "where")
        replies.send(texts.where_unknown, data.get("where_typed", ""))
    elif 1 <= number <= len(choices):
        data["where"] = choices[number - 1]
        data.pop("choices", None)
        _save(conversation, now, "when")
        _ask(conversation, replies)
    else:
        _save(conversation, now)
        _ask(conversation, replies)


def _on_when(conversation, message, replies, now) -> None:
    today = timezone.localdate(now)
    try:
        day = dates.parse_day(message.text, today=today)
    except dates.Future:
        _save(conversation, now)
        replies.send(texts.when_future)
        return
    if day is None:
        _save(conversation, now)
        replies.send(texts.when_unknown)
        return
    conversation.data["when"] = day.isoformat()
    if not _top_categories():
        _finish(conversation, message, replies, now)
        return
    _save(conversation, now, "category")
    _ask(conversation, replies)


def _taxonomy():
    from sereno.reports.services import active_categories

    return sorted(active_categories().values(), key=lambda c: (c.position, c.slug))


def _top_categories():
    return [c for c in _taxonomy() if c.parent_id is None]


def _children(slug: str):
    return [c for c in _taxonomy() if c.parent_id and c.parent.slug == slug]


def _category_options(conversation):
    if conversation.step == "subcategory":
        return _children(conversation.data.get("parent", ""))
    return _top_categories()


def _by_name(text: str):
    key = keywords.normalise(text)
    for category in _taxonomy():
        names = {category.slug, category.name_es, category.name_en}
        if key in {keywords.normalise(n) for n in names}:
            return category
    return None


def _on_category(conversation, message, replies, now) -> None:
    key = keywords.normalise(message.text)
    options = _top_categories()
    chosen = None
    if key.isdigit() and int(key) == 0 or key in keywords.UNKNOWN:
        conversation.data["categories"] = []
        _finish(conversation, message, replies, now)
        return
    if key.isdigit() and 1 <= int(key) <= len(options):
        chosen = options[int(key) - 1]
    elif not key.isdigit():
        chosen = _by_name(message.text)
    if chosen is None:
        _save(conversation, now)
        _ask(conversation, replies)
        return
    if chosen.parent_id is None and _children(chosen.slug):
        conversation.data["parent"] = chosen.slug
        _save(conversation, now, "subcategory")
        _ask(conversation, replies)
        return
    conversation.data["categories"] = [chosen.slug]
    _finish(conversation, message, replies, now)


def _on_subcategory(conversation, message, replies, now) -> None:
    key = keywords.normalise(message.text)
    parent = conversation.data.get("parent", "")
    options = _children(parent)
    if key.isdigit() and int(key) == 0 or key in keywords.UNKNOWN:
        chosen_slug = parent
    elif key.isdigit() and 1 <= int(key) <= len(options):
        chosen_slug = options[int(key) - 1].slug
    else:
        by_name = None if key.isdigit() else _by_name(message.text)
        if by_name is None:
            _save(conversation, now)
            _ask(conversation, replies)
            return
        chosen_slug = by_name.slug
    conversation.data["categories"] = [chosen_slug] if chosen_slug else []
    _finish(conversation, message, replies, now)


# --- the report ----------------------------------------------------------------------------------


def _title(what: str) -> str:
    line = " ".join(what.split())
    if len(line) <= TITLE_LENGTH:
        return line
    cut = line[: TITLE_LENGTH - 1].rsplit(" ", 1)[0]
    return cut + "…"


def _occurred(day: date, now: datetime) -> datetime:
    # Midday of the day named, as the web form does; today before midday: now.
    return min(timezone.make_aware(datetime.combine(day, time(12))), now)


def _finish(conversation, message, replies, now) -> None:
    from sereno.reports.services import ReportInput, report_create

    data = conversation.data
    where = places.Candidate.from_data(data["where"]) if data.get("where") else None
    description = data["what"]
    typed = data.get("where_typed", "")
    if typed:
        with translation.override(conversation.language):
            description += "\n\n" + _("Place as written: %(place)s") % {"place": typed}
    report, _created = report_create(
        data=ReportInput(
            title=_title(data["what"]),
            description=description,
            occurred_at=_occurred(date.fromisoformat(data["when"]), now),
            occurred_precision="day",
            categories=data.get("categories", []),
            latitude=where.latitude if where else None,
            longitude=where.longitude if where else None,
            location_precision=where.precision if where else "place",
            place_name=where.name if where else "",
            channel=REPORT_CHANNEL.get(conversation.channel.kind, "sms"),
            language=conversation.language,
        ),
        intake_key=f"conversation:{conversation.pk}",
    )
    conversation.report = report
    conversation.status = Conversation.Status.COMPLETED
    conversation.step = ""
    conversation.save(update_fields=["report", "status", "step", "data", "updated_at"])
    message.report = report
    replies.send(texts.done, report.reference, report=report)
