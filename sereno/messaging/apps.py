from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Every channel in and out: SMS (Kannel, Twilio, an Android phone), WhatsApp, Telegram,
    e-mail. Inbound normalised and de-duplicated; outbound through a transactional outbox."""

    name = "sereno.messaging"
    label = "messaging"
