"""Secrets that must survive restarts: from the environment, else generated once into the data dir.

Several web/worker processes must share them: set the variables or share the data dir.
"""

import base64
import os
import secrets
from pathlib import Path


def load_or_create_key(data_dir: Path, name: str, env_value: str, nbytes: int = 32) -> bytes:
    if env_value:
        return _decode(env_value)
    key_dir = data_dir / "keys"
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = key_dir / name
    try:
        return _decode(path.read_text().strip())
    except FileNotFoundError:
        pass
    encoded = base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).decode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return _decode(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(encoded + "\n")
    return _decode(encoded)


def _decode(value: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        raw = b""
    return raw if len(raw) >= 32 else value.encode()
