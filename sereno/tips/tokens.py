"""Tokens for pages that must work without cookies and without JavaScript.

- Form tokens: a signed, timestamped hidden field with a random nonce, a per-visit id (the
  "session" that rate limits count, carried from form to form) and, for the source's tip box,
  a hash of the source session. A nonce is accepted once (replayed forms are refused). This
  replaces Django's CSRF cookie, which would be a cookie before one is needed.
- Source session: after the receipt, an HttpOnly, SameSite=Strict cookie holding the tip id
  and the tip's private key, encrypted under a server key. Nothing of it is stored on the
  server: a seized server holds no open source sessions.
- Recipient key: kept in the staff session encrypted under a key that lives only in an
  HttpOnly cookie; the database row alone (or the cookie alone) opens nothing.
"""

import base64
import hashlib
import json
import secrets
import time
import uuid

from django.core import signing
from django.core.cache import cache
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from nacl.utils import random as random_bytes

from sereno.lib.crypto import seal, unseal
from sereno.tips import conf

FORM_SALT = "sereno.tips.form"
SOURCE_COOKIE = "tips_source"
KEY_COOKIE = "tips_unlock"
KEY_SESSION = "tips_key"
COOKIE_PATH = "/tips/"
POW_SALT = b"sereno-tips-pow!"  # 16 bytes
POW_OPS, POW_MEM = 1, 1024 * 1024


class BadForm(Exception):
    """The form token is missing, forged, expired or was already used."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def new_visit() -> str:
    return secrets.token_hex(16)


def form_token(*, purpose: str, visit: str, bound: str = "") -> str:
    payload = {"n": secrets.token_hex(16), "p": purpose, "v": visit, "b": bound}
    return signing.dumps(payload, salt=FORM_SALT, compress=False)


def form_nonce(token: str) -> str:
    """The nonce of a token this server just made (the proof-of-work challenge)."""
    return signing.loads(token, salt=FORM_SALT)["n"]


def check_form_token(token: str, *, purpose: str, bound: str = "") -> dict:
    """The token's payload, without consuming it. Raises BadForm."""
    try:
        payload = signing.loads(token or "", salt=FORM_SALT, max_age=conf.get("TIPS_FORM_MAX_AGE"))
    except signing.SignatureExpired:
        raise BadForm("expired") from None
    except signing.BadSignature:
        raise BadForm("invalid") from None
    if payload.get("p") != purpose or payload.get("b", "") != bound:
        raise BadForm("invalid")
    return payload


def consume(payload: dict) -> None:
    """Accept the token's nonce once; raise BadForm("replayed") the second time."""
    if not cache.add(f"tips:nonce:{payload['n']}", 1, timeout=conf.get("TIPS_FORM_MAX_AGE")):
        raise BadForm("replayed")


# --- proof of work -----------------------------------------------------------------------------


def pow_valid(payload: dict, answer: str) -> bool:
    """Argon2id(nonce:answer, 1 MiB, 1 pass) must start with TIPS_POW_BITS zero bits."""
    from nacl import pwhash

    answer = (answer or "").strip()
    if not answer or len(answer) > 20 or not answer.isdigit():
        return False
    digest = pwhash.argon2id.kdf(
        32, f"{payload['n']}:{answer}".encode(), POW_SALT, opslimit=POW_OPS, memlimit=POW_MEM
    )
    bits = conf.get("TIPS_POW_BITS")
    return int.from_bytes(digest, "big") >> (256 - bits) == 0 if bits else True


# --- source session ----------------------------------------------------------------------------


def source_cookie(*, tip_id: uuid.UUID, private_key: bytes, visit: str) -> str:
    data = {
        "t": str(tip_id), "k": base64.b64encode(private_key).decode(), "v": visit,
        "e": int(time.time()) + conf.get("TIPS_SOURCE_SESSION_SECONDS"),
    }  # fmt: skip
    sealed = seal(json.dumps(data).encode(), purpose="tips.source-session")
    return base64.urlsafe_b64encode(sealed).decode()


def read_source_cookie(value: str) -> dict | None:
    """{"tip": uuid, "key": bytes, "visit": str} or None when absent, forged or expired."""
    try:
        data = json.loads(
            unseal(base64.urlsafe_b64decode(value or ""), purpose="tips.source-session")
        )
    except (CryptoError, ValueError, TypeError):
        return None
    if data.get("e", 0) < time.time():
        return None
    return {"tip": uuid.UUID(data["t"]), "key": base64.b64decode(data["k"]), "visit": data["v"]}


def bound_to(visit: str) -> str:
    return hashlib.sha256(f"tips-box:{visit}".encode()).hexdigest()[:32]


# --- recipient key in the staff session --------------------------------------------------------


def stash_recipient_key(request, response, private_key: bytes) -> None:
    half = random_bytes(SecretBox.KEY_SIZE)
    request.session[KEY_SESSION] = base64.b64encode(
        bytes(SecretBox(half).encrypt(private_key))
    ).decode()
    response.set_cookie(
        KEY_COOKIE, base64.urlsafe_b64encode(half).decode(), path=COOKIE_PATH,
        httponly=True, samesite="Strict", secure=request.is_secure(),
    )  # fmt: skip


def recipient_key(request) -> bytes | None:
    blob = request.session.get(KEY_SESSION)
    half = request.COOKIES.get(KEY_COOKIE)
    if not blob or not half:
        return None
    try:
        return SecretBox(base64.urlsafe_b64decode(half)).decrypt(base64.b64decode(blob))
    except (CryptoError, ValueError, TypeError):
        return None


def forget_recipient_key(request, response) -> None:
    request.session.pop(KEY_SESSION, None)
    response.delete_cookie(KEY_COOKIE, path=COOKIE_PATH)
