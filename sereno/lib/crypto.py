"""Encryption at rest with libsodium, one subkey per purpose.

Small values: XSalsa20-Poly1305 secretbox (`seal`). Files: XChaCha20-Poly1305 secretstream
(`encrypt_stream`), in constant memory, with a final tag so a truncated file is detected.
"""

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from nacl import bindings as sodium
from nacl import exceptions as nacl_exceptions
from nacl.secret import SecretBox

# File format v1: MAGIC | secretstream header (24 bytes) | records. Every record but the last
# holds exactly STREAM_CHUNK plaintext bytes; the last one (possibly empty) carries TAG_FINAL.
STREAM_MAGIC = b"SRNENC1\n"
STREAM_CHUNK = 64 * 1024
_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_RECORD_BYTES = STREAM_CHUNK + sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


class DecryptionError(Exception):
    """An encrypted file was tampered with, truncated, or sealed with another key."""


def _subkey(purpose: str) -> bytes:
    key = hashlib.blake2b(
        settings.ENCRYPTION_KEY, digest_size=32, person=b"sereno-subkey", salt=b"", key=b""
    )
    key.update(purpose.encode())
    return key.digest()


def _box(purpose: str) -> SecretBox:
    return SecretBox(_subkey(purpose))


def _stream_key(purpose: str) -> bytes:
    # Never the same key for two ciphers: streams get their own derivation label.
    return _subkey(f"stream:{purpose}")


def seal(plaintext: bytes, *, purpose: str) -> bytes:
    return bytes(_box(purpose).encrypt(plaintext))


def unseal(ciphertext: bytes, *, purpose: str) -> bytes:
    return _box(purpose).decrypt(bytes(ciphertext))


def seal_text(text: str, *, purpose: str) -> bytes:
    return seal(text.encode(), purpose=purpose)


def unseal_text(ciphertext: bytes, *, purpose: str) -> str:
    return unseal(ciphertext, purpose=purpose).decode()


def keyed_hash(value: str, *, purpose: str) -> str:
    """A keyed hash (BLAKE2b-256 under the purpose's subkey) to find a secret value again
    without storing it: equal inputs give equal hashes; nobody without the key can test a
    guess (a phone number has too few possibilities for a plain hash)."""
    digest = hashlib.blake2b(value.encode(), digest_size=32, key=_subkey(f"hash:{purpose}"))
    return digest.hexdigest()


def _read_full(src: BinaryIO, size: int) -> bytes:
    """Read `size` bytes unless the stream ends first (raw files and sockets may return less)."""
    parts, missing = [], size
    while missing:
        data = src.read(missing)
        if not data:
            break
        parts.append(data)
        missing -= len(data)
    return b"".join(parts)


def encrypt_stream(src_fileobj: BinaryIO, dst_path: Path, *, purpose: str) -> tuple[str, int]:
    """Encrypt `src_fileobj` into a new file at `dst_path`; return (SHA-256 hex, size) of the
    plaintext. The file appears only when complete; on any error nothing is left behind."""
    return encrypt_stream_with_key(src_fileobj, dst_path, key=_stream_key(purpose))


def encrypt_stream_with_key(
    src_fileobj: BinaryIO, dst_path: Path, *, key: bytes
) -> tuple[str, int]:
    """`encrypt_stream` under an explicit secretstream key (e.g. a random key per file)."""
    dst_path = Path(dst_path)
    dst_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = dst_path.with_name(f".{dst_path.name}.{secrets.token_hex(8)}.tmp")
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    digest, size = hashlib.sha256(), 0
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as dst:
            dst.write(STREAM_MAGIC + header)
            chunk = _read_full(src_fileobj, STREAM_CHUNK)
            while True:
                # Read one chunk ahead: the last chunk must carry the final tag.
                full = len(chunk) == STREAM_CHUNK
                following = _read_full(src_fileobj, STREAM_CHUNK) if full else b""
                digest.update(chunk)
                size += len(chunk)
                tag = _TAG_MESSAGE if following else _TAG_FINAL
                dst.write(sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, tag=tag))
                if not following:
                    break
                chunk = following
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp_path, dst_path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size


def decrypt_stream(src_path: Path, *, purpose: str) -> Iterator[bytes]:
    """Yield the plaintext of a file written by `encrypt_stream`, chunk by chunk.

    Raises DecryptionError on tampering, truncation or trailing data. The last check happens
    at the end: a consumer must not trust what it received until the iterator is exhausted."""
    return decrypt_stream_with_key(src_path, key=_stream_key(purpose))


def decrypt_stream_with_key(src_path: Path, *, key: bytes) -> Iterator[bytes]:
    """`decrypt_stream` under an explicit secretstream key."""
    with open(src_path, "rb") as src:
        if _read_full(src, len(STREAM_MAGIC)) != STREAM_MAGIC:
            raise DecryptionError("not a Sereno encrypted file")
        header = _read_full(src, _HEADER_BYTES)
        if len(header) != _HEADER_BYTES:
            raise DecryptionError("truncated header")
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        try:
            sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
        except nacl_exceptions.CryptoError as error:
            raise DecryptionError("invalid header") from error
        while True:
            record = _read_full(src, _RECORD_BYTES)
            if not record:
                raise DecryptionError("truncated: the final chunk is missing")
            try:
                plaintext, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, record)
            except nacl_exceptions.CryptoError as error:
                raise DecryptionError("tampered, truncated or wrong key") from error
            if tag == _TAG_FINAL:
                if src.read(1):
                    raise DecryptionError("data after the final chunk")
                yield plaintext
                return
            if tag != _TAG_MESSAGE:
                raise DecryptionError("unexpected chunk tag")
            yield plaintext
