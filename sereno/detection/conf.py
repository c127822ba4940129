"""Detection settings: Django settings when set (tests), else SERENO_DETECT_* variables."""

from django.conf import settings

from sereno.lib.env import env_int, env_list, env_str


def _float(name: str, default: float) -> float:
    return float(env_str(name, str(default)))


def _optional_km(name: str, default: float) -> float | None:
    value = _float(name, default)
    return value if value > 0 else None  # 0 lifts the cap


_DEFAULTS = {
    # Category slugs scanned one by one; empty: one scan over all categories together.
    "DETECT_CATEGORIES": lambda: env_list("SERENO_DETECT_CATEGORIES", ""),
    "DETECT_STUDY_DAYS": lambda: env_int("SERENO_DETECT_STUDY_DAYS", 365),
    "DETECT_MAX_WINDOW_DAYS": lambda: env_int("SERENO_DETECT_MAX_WINDOW_DAYS", 7),
    "DETECT_MAX_SHARE": lambda: _float("SERENO_DETECT_MAX_SHARE", 0.5),
    "DETECT_MAX_KM": lambda: _optional_km("SERENO_DETECT_MAX_KM", 10.0),
    "DETECT_REPLICATES": lambda: env_int("SERENO_DETECT_REPLICATES", 999),
    "DETECT_EARLY_STOP": lambda: env_int("SERENO_DETECT_EARLY_STOP", 50),
    "DETECT_MIN_CASES": lambda: env_int("SERENO_DETECT_MIN_CASES", 2),
    "DETECT_RI_THRESHOLD_DAYS": lambda: env_int("SERENO_DETECT_RI_THRESHOLD_DAYS", 365),
    "DETECT_H3_RESOLUTION": lambda: env_int("SERENO_DETECT_H3_RESOLUTION", 7),
    "DETECT_WORKERS": lambda: env_int("SERENO_DETECT_WORKERS", 2),
    "DETECT_SEED": lambda: env_int("SERENO_DETECT_SEED", 0),  # 0: a new seed each run
    # Huey crontab "minute hour"; the recurrence interval assumes one run a day.
    "DETECT_SCHEDULE": lambda: env_str("SERENO_DETECT_SCHEDULE", "30 5"),
    # CUSUM per municipality: reference value k and decision interval h (in standard
    # deviations), the baseline it learns from and the recent days it watches.
    "DETECT_CUSUM_K": lambda: _float("SERENO_DETECT_CUSUM_K", 0.5),
    "DETECT_CUSUM_H": lambda: _float("SERENO_DETECT_CUSUM_H", 5.0),
    "DETECT_CUSUM_BASELINE_DAYS": lambda: env_int("SERENO_DETECT_CUSUM_BASELINE_DAYS", 90),
    "DETECT_CUSUM_MONITOR_DAYS": lambda: env_int("SERENO_DETECT_CUSUM_MONITOR_DAYS", 14),
    "DETECT_CUSUM_MIN_CASES": lambda: env_int("SERENO_DETECT_CUSUM_MIN_CASES", 5),
}


def get(name: str):
    if hasattr(settings, name):
        return getattr(settings, name)
    return _DEFAULTS[name]()


def schedule() -> tuple[str, str]:
    """(minute, hour) of the daily run, read when the worker imports the task."""
    fields = str(get("DETECT_SCHEDULE")).split()
    return fields[0] if fields else "30", fields[1] if len(fields) > 1 else "*"
