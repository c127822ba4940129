"""One module per channel, each a `Transport` subclass (see `base.py`)."""

from importlib import import_module

from sereno.messaging.transports.base import Transport

# kind -> "module:Class", imported on first use so that a channel's library loads only when
# that channel is used.
TRANSPORTS: dict[str, str] = {
    "kannel": "sereno.messaging.transports.kannel:KannelTransport",
    "twilio_sms": "sereno.messaging.transports.twilio:TwilioSMSTransport",
    "twilio_whatsapp": "sereno.messaging.transports.twilio:TwilioWhatsAppTransport",
    "smssync": "sereno.messaging.transports.smssync:SMSSyncTransport",
    "whatsapp": "sereno.messaging.transports.whatsapp:WhatsAppTransport",
    "telegram": "sereno.messaging.transports.telegram:TelegramTransport",
    "email": "sereno.messaging.transports.email:EmailTransport",
}


def transport_class(kind: str) -> type[Transport]:
    module, _, name = TRANSPORTS[kind].partition(":")
    return getattr(import_module(module), name)


def transport_for(channel) -> Transport:
    return transport_class(channel.kind)(channel)
