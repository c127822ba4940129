"""The tip line's cryptography (libsodium through PyNaCl).

- A tip has its own X25519 key pair. Answers, comments, file names and file keys are sealed
  to the tip's public key (`SealedBox`): the server can write them, not read them back.
- The tip's private key is sealed to each recipient's public key, and wrapped for the source
  under a key derived with Argon2id from the receipt.
- A recipient's private key is wrapped (secretbox) under Argon2id(password), and under a key
  derived from a high-entropy recovery key shown once.
- Files: a random key per file, XChaCha20-Poly1305 secretstream in 64 KiB records (the same
  file format as `sereno.lib.crypto.encrypt_stream`, with an explicit key): constant memory.
"""

import hashlib
import hmac
import os
import secrets
import unicodedata
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import BinaryIO

from nacl import bindings as sodium
from nacl import exceptions as nacl_exceptions
from nacl import pwhash
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox

from sereno.lib.crypto import (
    STREAM_CHUNK,
    DecryptionError,  # noqa: F401  (re-exported: callers catch crypto.DecryptionError)
    _subkey,
    decrypt_stream_with_key,
    encrypt_stream_with_key,
)
from sereno.tips import conf

SALT_BYTES = pwhash.argon2id.SALTBYTES
_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_RECORD_BYTES = STREAM_CHUNK + sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL

RECEIPT_WORDS = 8  # 8 × 11 bits = 88 bits
RECOVERY_BYTES = 20  # 160 bits, 32 base32 characters


# --- key derivation ----------------------------------------------------------------------------


def argon2id(secret: bytes, salt: bytes, *, size: int = 32, ops: int = 0, mem: int = 0) -> bytes:
    """Argon2id with the site's cost. Releases the GIL inside libsodium, so parallel requests
    run in parallel (no global lock, unlike GlobaLeaks)."""
    return pwhash.argon2id.kdf(
        size,
        secret,
        salt,
        opslimit=ops or conf.get("TIPS_ARGON2_OPS"),
        memlimit=mem or conf.get("TIPS_ARGON2_MEM"),
    )


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def wrap(secret: bytes, key: bytes) -> bytes:
    return bytes(SecretBox(key).encrypt(secret))


def unwrap(blob: bytes, key: bytes) -> bytes:
    """Raises nacl.exceptions.CryptoError for a wrong key."""
    return SecretBox(key).decrypt(bytes(blob))


def seal_to(public_key: bytes, data: bytes) -> bytes:
    return bytes(SealedBox(PublicKey(bytes(public_key))).encrypt(data))


def open_sealed(private_key: bytes, blob: bytes) -> bytes:
    return SealedBox(PrivateKey(bytes(private_key))).decrypt(bytes(blob))


def new_keypair() -> tuple[bytes, bytes]:
    """(public, private) raw 32-byte X25519 keys."""
    private = PrivateKey.generate()
    return bytes(private.public_key), bytes(private)


CryptoError = nacl_exceptions.CryptoError


# --- receipts ----------------------------------------------------------------------------------


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


@cache
def wordlist() -> tuple[list[str], dict[str, int]]:
    """The 2048 Spanish words (BIP-39 Spanish list) and an index by their first 4 folded letters
    (unique in this list, with or without accents)."""
    path = Path(__file__).with_name("data") / "words_es.txt"
    words = unicodedata.normalize("NFC", path.read_text(encoding="utf-8")).split()
    if len(words) != 2048:  # pragma: no cover - a packaging error
        raise RuntimeError("tips word list must hold 2048 words")
    index = {_fold(word)[:4]: i for i, word in enumerate(words)}
    return words, index


def new_receipt() -> str:
    words, _ = wordlist()
    return " ".join(words[secrets.randbelow(2048)] for _ in range(RECEIPT_WORDS))


class MalformedReceipt(ValueError):
    def __init__(self, *, count: int = 0, unknown: list[str] | None = None):
        super().__init__("malformed receipt")
        self.count = count
        self.unknown = unknown or []


def normalize_receipt(text: str) -> str:
    """The canonical form (8 word indices) of a typed receipt: case, accents, spaces, hyphens
    and punctuation do not matter, and the first 4 letters of a word are enough."""
    words, index = wordlist()
    cleaned = "".join(c if c.isalnum() else " " for c in _fold(text or ""))
    typed = cleaned.split()
    unknown = [word for word in typed if len(word) < 3 or word[:4] not in index]
    if unknown or len(typed) != RECEIPT_WORDS:
        raise MalformedReceipt(count=len(typed), unknown=unknown)
    return "-".join(str(index[word[:4]]) for word in typed)


def receipt_lookup_id(canonical: str) -> str:
    """A deterministic index to find the tip: HMAC under a key kept outside the database."""
    key = _subkey("tips.receipt.lookup")
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def receipt_keys(canonical: str, salt: bytes) -> tuple[bytes, bytes]:
    """(verifier, wrapping key): one Argon2id call gives both halves."""
    out = argon2id(canonical.encode(), salt, size=64)
    return out[:32], out[32:]


# --- recovery keys -----------------------------------------------------------------------------

_B32 = "ABCDEFGHJKMNPQRSTVWXYZ0123456789"  # no I, L, O, U: nothing to confuse when read aloud


def new_recovery_key() -> str:
    raw = secrets.token_bytes(RECOVERY_BYTES)
    number = int.from_bytes(raw, "big")
    chars = []
    for _ in range(RECOVERY_BYTES * 8 // 5):
        chars.append(_B32[number & 31])
        number >>= 5
    text = "".join(chars)
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalize_recovery_key(text: str) -> str:
    return "".join(c for c in (text or "").upper() if c.isalnum())


def recovery_wrapping_key(text: str, salt: bytes) -> bytes:
    # 160 random bits: a keyed hash is enough, no slow KDF needed.
    return hashlib.blake2b(
        normalize_recovery_key(text).encode(), digest_size=32, salt=salt[:16], person=b"sereno-rk"
    ).digest()


# --- files -------------------------------------------------------------------------------------


def new_file_key() -> bytes:
    return sodium.crypto_secretstream_xchacha20poly1305_keygen()


def encrypt_file(src: BinaryIO, dst_path: Path, *, key: bytes) -> tuple[str, int]:
    """Encrypt `src` into `dst_path` (mode 600) in 64 KiB records; return the plaintext's
    (SHA-256 hex, size). Nothing is left behind on any error."""
    return encrypt_stream_with_key(src, dst_path, key=key)


def decrypt_file(src_path: Path, *, key: bytes) -> Iterator[bytes]:
    """Yield the plaintext of a file written by `encrypt_file`; DecryptionError on tampering
    or truncation (raised at the end at the latest)."""
    return decrypt_stream_with_key(src_path, key=key)


def shred(path: Path) -> None:
    """Overwrite a file with zeros, then remove it. (On SSDs and copy-on-write file systems
    the old blocks may survive; the key is destroyed too, which is what really counts.)"""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "r+b", buffering=0) as handle:
            zeros = b"\0" * STREAM_CHUNK
            written = 0
            while written < size:
                written += handle.write(zeros[: min(STREAM_CHUNK, size - written)])
            os.fsync(handle.fileno())
    except FileNotFoundError:
        return
    path.unlink(missing_ok=True)
