"""Encryption at rest with libsodium (XSalsa20-Poly1305 secretbox), one subkey per purpose."""

import hashlib

from django.conf import settings
from nacl.secret import SecretBox


def _box(purpose: str) -> SecretBox:
    key = hashlib.blake2b(
        settings.ENCRYPTION_KEY, digest_size=32, person=b"sereno-subkey", salt=b"", key=b""
    )
    key.update(purpose.encode())
    return SecretBox(key.digest())


def seal(plaintext: bytes, *, purpose: str) -> bytes:
    return bytes(_box(purpose).encrypt(plaintext))


def unseal(ciphertext: bytes, *, purpose: str) -> bytes:
    return _box(purpose).decrypt(bytes(ciphertext))


def seal_text(text: str, *, purpose: str) -> bytes:
    return seal(text.encode(), purpose=purpose)


def unseal_text(ciphertext: bytes, *, purpose: str) -> str:
    return unseal(ciphertext, purpose=purpose).decode()
