"""E-mail against real servers: Dovecot (IMAP, Debian's dovecot-imapd) started on a free port
with a generated configuration, and aiosmtpd (SMTP)."""

import imaplib
import io
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.core.management import call_command

from sereno.messaging.models import InboundMessage, OutboundMessage
from sereno.messaging.transports import transport_for
from sereno.messaging.transports.base import PermanentError, RetryableError
from sereno.messaging.transports.email import strip_quoted
from tests.messaging.recorded.fakeprovider import HERE, make_channel, outbound

pytestmark = pytest.mark.django_db

MAILBOX = "reportes@sereno.example.org"
PASSWORD = "clave-del-buzon-1"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def imap_server():
    """Dovecot on 127.0.0.1:<free port>, one mailbox, plain-text login (local tests only).
    As root its processes run as Debian's dovecot/dovenull users; otherwise as ourselves."""
    if not os.access(DOVECOT, os.X_OK):
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    root = tempfile.mkdtemp(prefix="sereno-dovecot-")
    os.chmod(root, 0o755)  # noqa: S103 - dovecot's unprivileged processes must reach it
    port = free_port()
    if os.getuid() == 0:
        mail_user = pwd.getpwnam("dovecot")
        internal, login = "dovecot", "dovenull"
    else:
        mail_user = pwd.getpwuid(os.getuid())
        internal = login = mail_user.pw_name
    home = os.path.join(root, "home")
    os.makedirs(home)
    os.chown(home, mail_user.pw_uid, mail_user.pw_gid)
    with open(os.path.join(root, "passwd"), "w") as fh:
        fh.write(f"{MAILBOX}:{{PLAIN}}{PASSWORD}\n")
    config = f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={home}/%u
}}
mail_location = maildir:~/Maildir
first_valid_uid = {min(mail_user.pw_uid, 500)}
default_internal_user = {internal}
default_internal_group = {internal}
default_login_user = {login}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""
    conf = os.path.join(root, "dovecot.conf")
    with open(conf, "w") as fh:
        fh.write(config)
    proc = subprocess.Popen([DOVECOT, "-F", "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 15
    while True:
        try:
            conn = imaplib.IMAP4("127.0.0.1", port, timeout=2)
            conn.login(MAILBOX, PASSWORD)
            conn.logout()
            break
        except (OSError, imaplib.IMAP4.error):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                logfile = os.path.join(root, "dovecot.log")
                log = open(logfile).read() if os.path.exists(logfile) else ""
                pytest.fail(f"dovecot did not start: {log[-2000:]}")
            time.sleep(0.1)
    yield {"port": port}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mailbox(imap_server):
    """The mailbox, emptied; returns a function that delivers an .eml into it."""
    conn = imaplib.IMAP4("127.0.0.1", imap_server["port"])
    conn.login(MAILBOX, PASSWORD)
    conn.select("INBOX")
    if conn.search(None, "ALL")[1][0]:
        conn.store("1:*", "+FLAGS", "(\\Deleted)")
        conn.expunge()

    def deliver(name: str) -> None:
        conn.append("INBOX", None, None, (HERE / name).read_bytes())

    deliver.conn = conn
    yield deliver
    conn.logout()


class Recorder:
    def __init__(self, rcpt_answer: str = "250 OK"):
        self.envelopes = []
        self.rcpt_answer = rcpt_answer

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if not self.rcpt_answer.startswith("250"):
            return self.rcpt_answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    servers = []
    # aiosmtpd logs "connection lost" (INFO) for the client it cancels when it stops, from its
    # own thread, into whatever stream the test's log capture has already closed: CI showed a
    # "--- Logging error ---" traceback for every test. Its warnings and errors still show.
    mail_log = logging.getLogger("mail.log")
    level = mail_log.level
    mail_log.setLevel(logging.WARNING)

    def start(rcpt_answer: str = "250 OK", *, password: str | None = None):
        handler = Recorder(rcpt_answer)
        kwargs = {}
        if password:

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = auth_data.login == b"sereno" and auth_data.password == password.encode()
                return AuthResult(success=ok, handled=False)

            kwargs = {"authenticator": authenticator, "auth_require_tls": False,
                      "auth_required": True}  # fmt: skip
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
        controller.start()
        servers.append(controller)
        handler.port = controller.port
        return handler

    yield start
    for controller in servers:
        controller.stop()
    mail_log.setLevel(level)


def email_channel(imap_port: int = 1, smtp_port: int = 1, **extra):
    config = {
        "from_address": MAILBOX, "subject": "Sereno",
        "imap_host": "127.0.0.1", "imap_port": str(imap_port), "imap_security": "none",
        "imap_user": MAILBOX, "imap_password": PASSWORD,
        "smtp_host": "127.0.0.1", "smtp_port": str(smtp_port), "smtp_security": "none",
        **extra,
    }  # fmt: skip
    return make_channel("email", config, address=MAILBOX)


# ---- inbound ---------------------------------------------------------------------------------


def test_polling_stores_each_reply_once_with_the_quoted_part_cut_off(mailbox, imap_server):
    channel = email_channel(imap_server["port"])
    for name in ("email_reply_gmail_es.eml", "email_reply_outlook_es.eml", "email_autoreply.eml"):
        mailbox(name)
    out = io.StringIO()
    call_command("messaging_poll_email", stdout=out)
    assert f"channel {channel.pk}: 2 new" in out.getvalue()
    rows = {m.contact.address: m for m in InboundMessage.objects.select_related("contact")}
    assert set(rows) == {"maria.lopez@example.org", "jperez@example.hn"}
    assert rows["maria.lopez@example.org"].text == (
        "Fue ayer en la tarde, cerca del puente de la colonia Las Palmas. Se llevaron dos motos."
    )
    assert rows["jperez@example.hn"].text == (
        "Extorsión a comerciantes del mercado San Isidro, cobran 500 lempiras a la semana."
    )
    assert rows["maria.lopez@example.org"].external_id == (
        "<CAJx4Tq=3kQ9Yb7v1pZr8mW2sN5dL0fH6gE@mail.gmail.com>"
    )
    # Polled again: nothing new. Marked unread again by someone: still stored only once.
    out = io.StringIO()
    call_command("messaging_poll_email", stdout=out)
    assert f"channel {channel.pk}: 0 new" in out.getvalue()
    mailbox.conn.store("1:*", "-FLAGS", "(\\Seen)")
    call_command("messaging_poll_email", stdout=out)
    assert InboundMessage.objects.count() == 2


def test_an_unreachable_mailbox_is_reported_and_skipped(db):
    channel = email_channel(free_port())
    out, err = io.StringIO(), io.StringIO()
    call_command("messaging_poll_email", stdout=out, stderr=err)
    assert f"channel {channel.pk}: mailbox not reachable" in err.getvalue()


def test_a_wrong_mailbox_password_stores_nothing(mailbox, imap_server):
    email_channel(imap_server["port"], imap_password="not-the-password")
    mailbox("email_reply_gmail_es.eml")
    err = io.StringIO()
    call_command("messaging_poll_email", stdout=err, stderr=err)
    assert "not reachable" in err.getvalue()
    assert not InboundMessage.objects.exists()


def test_the_periodic_task_polls_enabled_channels_only(mailbox, imap_server):
    from sereno.messaging.email_tasks import poll_mailboxes

    on = email_channel(imap_server["port"])
    off = email_channel(imap_server["port"])
    off.enabled = False
    off.save()
    mailbox("email_reply_gmail_es.eml")
    assert poll_mailboxes() == {on.pk: 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sí, fue hoy.\n\nOn Sun, Nov 29, 2026 at 9:10 AM Sereno <r@x.org> wrote:\n> ¿Cuándo?",
         "Sí, fue hoy."),
        ("Ayer\n-----Mensaje original-----\nDe: Sereno", "Ayer"),
        ("En Choloma\n\n-- \nJuan, Tegucigalpa", "En Choloma"),
        ("> citado\nNuevo texto", "Nuevo texto"),
    ],
)  # fmt: skip
def test_quoted_replies_and_signatures_are_cut(text, expected):
    assert strip_quoted(text) == expected


# ---- outbound --------------------------------------------------------------------------------


def test_send_delivers_a_utf8_mail_from_the_reply_address(smtp_server):
    smtp = smtp_server()
    channel = email_channel(smtp_port=smtp.port)
    row = outbound(channel, to="maria.lopez@example.org", scheme="mailto",
                   text="¿Dónde ocurrió? Escriba el barrio o la aldea.")  # fmt: skip
    sent = transport_for(channel).send(row, to="maria.lopez@example.org")
    (envelope,) = smtp.envelopes
    assert envelope.mail_from == MAILBOX
    assert envelope.rcpt_tos == ["maria.lopez@example.org"]
    mail = message_from_bytes(envelope.original_content, policy=default_policy)
    assert mail["Message-ID"] == sent.provider_id
    assert mail["Subject"] == "Sereno"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content().strip() == "¿Dónde ocurrió? Escriba el barrio o la aldea."


def test_a_reply_is_threaded_under_the_mail_it_answers(smtp_server, mailbox, imap_server):
    smtp = smtp_server()
    channel = email_channel(imap_server["port"], smtp.port)
    mailbox("email_reply_gmail_es.eml")
    transport_for(channel).poll()
    inbound = InboundMessage.objects.get()
    row = outbound(channel, to="maria.lopez@example.org", scheme="mailto", text="Gracias")
    OutboundMessage.objects.filter(pk=row.pk).update(in_reply_to=inbound)
    row = OutboundMessage.objects.select_related("in_reply_to").get(pk=row.pk)
    transport_for(channel).send(row, to="maria.lopez@example.org")
    mail = message_from_bytes(smtp.envelopes[0].original_content, policy=default_policy)
    assert mail["In-Reply-To"] == inbound.external_id
    assert mail["Auto-Submitted"] == "auto-replied"


def test_smtp_login_is_used_when_configured(smtp_server):
    smtp = smtp_server(password="clave-smtp")
    channel = email_channel(smtp_port=smtp.port, smtp_user="sereno", smtp_password="clave-smtp")
    transport_for(channel).send(outbound(channel, to="a@example.org", scheme="mailto"),
                                to="a@example.org")  # fmt: skip
    assert len(smtp.envelopes) == 1
    wrong = email_channel(smtp_port=smtp.port, smtp_user="sereno", smtp_password="otra")
    with pytest.raises(PermanentError) as raised:
        transport_for(wrong).send(outbound(wrong, to="a@example.org", scheme="mailto"),
                                  to="a@example.org")  # fmt: skip
    assert raised.value.code == "535"


@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [("550 5.1.1 Mailbox does not exist", PermanentError, "550"),
     ("451 4.3.0 Try again later", RetryableError, "451")],
)  # fmt: skip
def test_refused_recipients_are_permanent_or_retryable_by_code(smtp_server, answer, error, code):
    smtp = smtp_server(answer)
    channel = email_channel(smtp_port=smtp.port)
    with pytest.raises(error) as raised:
        transport_for(channel).send(outbound(channel, to="nadie@example.org", scheme="mailto"),
                                    to="nadie@example.org")  # fmt: skip
    assert raised.value.code == code
    assert "nadie" not in raised.value.detail


def test_an_unreachable_smtp_server_is_retryable(db):
    channel = email_channel(smtp_port=free_port())
    with pytest.raises(RetryableError):
        transport_for(channel).send(outbound(channel, to="a@example.org", scheme="mailto"),
                                    to="a@example.org")  # fmt: skip


def test_the_hook_url_of_an_email_channel_does_not_exist(client, db):
    channel = email_channel()
    assert client.post(f"/hooks/email/{channel.uuid}/", data={}).status_code == 404


def test_a_polled_mail_gets_one_reply_in_the_outbox(mailbox, imap_server):
    channel = email_channel(imap_server["port"])
    mailbox("email_reply_gmail_es.eml")
    transport_for(channel).poll()
    mailbox.conn.store("1:*", "-FLAGS", "(\\Seen)")
    transport_for(channel).poll()
    message = InboundMessage.objects.get()
    assert message.status == "handled"
    reply = OutboundMessage.objects.get(channel=channel)
    assert reply.contact == message.contact and reply.contact.scheme == "mailto"


def test_a_mail_that_cannot_be_read_does_not_block_the_others(mailbox, imap_server):
    channel = email_channel(imap_server["port"])
    mailbox.conn.append("INBOX", None, None, b"From: not an address\r\nSubject: x\r\n\r\nhola\r\n")
    mailbox.conn.append(
        "INBOX", None, None,
        b"From: <" + b"a" * 300 + b"@example.org>\r\nMessage-ID: <long@x>\r\n\r\nhola\r\n",
    )  # fmt: skip
    mailbox("email_reply_gmail_es.eml")
    assert transport_for(channel).poll() == 1
    assert InboundMessage.objects.get().contact.address == "maria.lopez@example.org"
