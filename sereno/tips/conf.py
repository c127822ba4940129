"""Tip-line settings: read from Django settings when set (tests), else SERENO_TIPS_* variables."""

from django.conf import settings

from sereno.lib.env import env_bool, env_int, env_str

_DEFAULTS = {
    # Argon2id cost for recipients' passwords and sources' receipts. 64 MiB / 3 passes takes
    # about 0.3 s on a small VPS core; it runs outside any lock (see docs/tips.md).
    "TIPS_ARGON2_OPS": lambda: env_int("SERENO_TIPS_ARGON2_OPS", 3),
    "TIPS_ARGON2_MEM": lambda: env_int("SERENO_TIPS_ARGON2_MEM", 64 * 1024 * 1024),
    # Proof of work (JavaScript only): Argon2id with 1 MiB, one pass, this many zero bits.
    "TIPS_POW_BITS": lambda: env_int("SERENO_TIPS_POW_BITS", 3),
    # Limits without addresses: per form session (a random id carried in the forms) and for
    # the whole site. Submissions with a proof of work get the looser global bucket.
    "TIPS_RATE_SUBMIT_SESSION": lambda: env_str("SERENO_TIPS_RATE_SUBMIT_SESSION", "5/3600"),
    "TIPS_RATE_SUBMIT_GLOBAL": lambda: env_str("SERENO_TIPS_RATE_SUBMIT_GLOBAL", "60/3600"),
    "TIPS_RATE_SUBMIT_GLOBAL_POW": lambda: env_str(
        "SERENO_TIPS_RATE_SUBMIT_GLOBAL_POW", "600/3600"
    ),
    "TIPS_RATE_RECEIPT_SESSION": lambda: env_str("SERENO_TIPS_RATE_RECEIPT_SESSION", "10/3600"),
    "TIPS_RATE_RECEIPT_GLOBAL": lambda: env_str("SERENO_TIPS_RATE_RECEIPT_GLOBAL", "300/600"),
    "TIPS_RATE_COMMENT_SESSION": lambda: env_str("SERENO_TIPS_RATE_COMMENT_SESSION", "30/3600"),
    "TIPS_FORM_MAX_AGE": lambda: env_int("SERENO_TIPS_FORM_MAX_AGE", 6 * 3600),
    "TIPS_SOURCE_SESSION_SECONDS": lambda: env_int("SERENO_TIPS_SOURCE_SESSION_SECONDS", 1800),
    "TIPS_MAX_FILES": lambda: env_int("SERENO_TIPS_MAX_FILES", 5),
    "TIPS_MAX_FILE_BYTES": lambda: env_int("SERENO_TIPS_MAX_FILE_BYTES", 0),  # 0: upload limit
    "TIPS_DEFAULT_RETENTION_DAYS": lambda: env_int("SERENO_TIPS_RETENTION_DAYS", 90),
    "TIPS_WARN_HOURS": lambda: env_int("SERENO_TIPS_WARN_HOURS", 72),
    "TIPS_NOTIFY_FROM": lambda: env_str("SERENO_TIPS_NOTIFY_FROM", ""),
    "TIPS_NOTIFICATIONS": lambda: env_bool("SERENO_TIPS_NOTIFICATIONS", False),
}


def get(name: str):
    if hasattr(settings, name):
        return getattr(settings, name)
    return _DEFAULTS[name]()


def max_file_bytes() -> int:
    return get("TIPS_MAX_FILE_BYTES") or settings.MAX_UPLOAD_BYTES
