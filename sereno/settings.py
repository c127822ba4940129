"""Sereno settings: every value from a SERENO_* environment variable with a safe default.

See `.env.example` for the full list.
"""

from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from sereno.lib.env import env_bool, env_int, env_list, env_path, env_str
from sereno.lib.keys import load_or_create_key

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = env_path("SERENO_DATA_DIR", BASE_DIR.parent / "var")
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = load_or_create_key(DATA_DIR, "secret_key", env_str("SERENO_SECRET_KEY"), 50).hex()
# Encrypts reporter contacts and original media at rest (libsodium secretbox).
ENCRYPTION_KEY = load_or_create_key(DATA_DIR, "encryption_key", env_str("SERENO_ENCRYPTION_KEY"))
# Keys the audit log's hash chain, so rewriting the chain needs more than database access.
AUDIT_KEY = load_or_create_key(DATA_DIR, "audit_key", env_str("SERENO_AUDIT_KEY"))

DEBUG = env_bool("SERENO_DEBUG", False)
ALLOWED_HOSTS = env_list("SERENO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
# The tip line's onion address and onion-only switch (docs/tips.md, "Onion service").
ONION_HOST = env_str("SERENO_ONION_HOST").lower()
ALLOWED_HOSTS += [ONION_HOST] if ONION_HOST else []
TIPS_ONION_ONLY = env_bool("SERENO_TIPS_ONION_ONLY", False)
CSRF_TRUSTED_ORIGINS = env_list("SERENO_CSRF_TRUSTED_ORIGINS", "")
SITE_NAME = env_str("SERENO_SITE_NAME", "Sereno")
# The address the internet reaches this site at (https://sereno.example.org), as seen in front
# of any proxy: webhook URLs shown to admins and Twilio's signature check are built from it.
PUBLIC_URL = env_str("SERENO_PUBLIC_URL", "").rstrip("/")
# CAP <sender> of published alerts (no spaces or commas); by default alerts@<public host>.
CAP_SENDER = env_str(
    "SERENO_CAP_SENDER", f"alerts@{PUBLIC_URL.partition('://')[2].split('/')[0] or 'localhost'}"
)
# An alert's fan-out is written in this many parts, side by side on PostgreSQL (one per core).
FANOUT_PARTS = max(1, env_int("SERENO_FANOUT_PARTS", 2))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "ninja",
    "huey.contrib.djhuey",
    "sereno.accounts",
    "sereno.geo",
    "sereno.reports",
    "sereno.api",
    "sereno.crowdmap",
    "sereno.moderation",
    "sereno.public",
    "sereno.messaging",
    "sereno.tips",
    "sereno.subscriptions",
    "sereno.alerts",
    "sereno.detection",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "sereno.lib.middleware.SafetyHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "sereno.tips.onion.OnionMiddleware",
    "sereno.lib.middleware.BodyLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sereno.urls"
WSGI_APPLICATION = "sereno.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# --- storage -----------------------------------------------------------------------------------
DATABASE_URL = env_str("SERENO_DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "sereno.sqlite3",
            "OPTIONS": {
                # WAL lets readers work while one writer writes; IMMEDIATE avoids the
                # deadlock-prone read-then-upgrade of deferred transactions.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 10,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("SERENO_REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "sereno",
        }
    }
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "sereno",
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": env_int("SERENO_WORKER_THREADS", 2), "worker_type": "thread"},
    }
else:
    # A database table, not process memory: limits must hold across every web process.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "sereno_cache",
        }
    }
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "sereno",
        "filename": str(DATA_DIR / "queue.sqlite3"),
        "immediate": False,
        "consumer": {"workers": env_int("SERENO_WORKER_THREADS", 2), "worker_type": "thread"},
    }
if env_bool("SERENO_QUEUE_IMMEDIATE", False):
    HUEY["immediate"] = True

MEDIA_DIR = env_path("SERENO_MEDIA_DIR", DATA_DIR / "media")
MAX_UPLOAD_BYTES = env_int("SERENO_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
MAX_REQUEST_BYTES = env_int("SERENO_MAX_REQUEST_BYTES", 5 * MAX_UPLOAD_BYTES + 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # non-file form fields and raw bodies
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

# --- internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = env_str("SERENO_LANGUAGE", "es")
# Phone numbers without a country code are read as numbers of this region (ISO 3166 code).
PHONE_REGION = env_str("SERENO_PHONE_REGION", "HN")
# Conversations by SMS/chat (docs/conversations.md): a report in progress is dropped after this
# many idle minutes; a reporter's message answers staff for this many days after staff wrote.
CONVERSATION_IDLE_MINUTES = env_int("SERENO_CONVERSATION_IDLE_MINUTES", 120)
CONVERSATION_STAFF_REPLY_DAYS = env_int("SERENO_CONVERSATION_STAFF_REPLY_DAYS", 14)
LANGUAGES = [("es", _("Spanish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("SERENO_TIME_ZONE", "America/Tegucigalpa")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# Leaflet and htmx, installed from the npm registry by `make` (see sereno/lib/vendor.py).
STATICFILES_DIRS = [BASE_DIR / "static_vendor"]
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = env_bool("SERENO_STATIC_FINDERS", False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Our own assets only, pre-compressed (gzip, brotli if installed) and served by the app.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- security ----------------------------------------------------------------------------------
HTTPS = env_bool("SERENO_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SERENO_SESSION_SECONDS", 8 * 3600)
SECURE_HSTS_SECONDS = 63072000 if HTTPS else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
X_FRAME_OPTIONS = "DENY"
TILE_URL = env_str("SERENO_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

# Roles whose members must use a second factor (TOTP) before any staff action.
TWO_FACTOR_ROLES = env_list("SERENO_2FA_ROLES", "admin,moderator")
OTP_TOTP_ISSUER = SITE_NAME

# --- limits ------------------------------------------------------------------------------------
# "count/seconds"; keyed on a rotating keyed hash of the client address, never the address.
RATE_REPORTS = env_str("SERENO_RATE_REPORTS", "20/3600")
RATE_PUBLIC_READ = env_str("SERENO_RATE_PUBLIC_READ", "600/3600")
RATE_LOGIN_USER = env_str("SERENO_RATE_LOGIN_USER", "5/900")
RATE_LOGIN_CLIENT = env_str("SERENO_RATE_LOGIN_CLIENT", "30/900")
# Alert subscriptions on the web: codes/links sent per client and per phone or e-mail address.
RATE_SUBSCRIBE_CLIENT = env_str("SERENO_RATE_SUBSCRIBE_CLIENT", "10/3600")
RATE_SUBSCRIBE_ADDRESS = env_str("SERENO_RATE_SUBSCRIBE_ADDRESS", "3/3600")
# The SMS channel (uuid) web subscriptions by phone use; empty: chosen (docs/subscriptions.md).
ALERTS_SMS_CHANNEL = env_str("SERENO_ALERTS_SMS_CHANNEL", "")
API_MAX_PAGE_SIZE = 50
LOCK_SECONDS = 300

# --- outbox senders (docs/outbox.md) -------------------------------------------------------------
SENDER_LEASE_SECONDS = env_int("SERENO_SENDER_LEASE_SECONDS", 60)
SENDER_MAX_ATTEMPTS = env_int("SERENO_SENDER_MAX_ATTEMPTS", 8)
SENDER_BACKOFF_SECONDS = env_int("SERENO_SENDER_BACKOFF_SECONDS", 5)
SENDER_BACKOFF_MAX_SECONDS = env_int("SERENO_SENDER_BACKOFF_MAX_SECONDS", 3600)
SENDER_POLL_MS = env_int("SERENO_SENDER_POLL_MS", 500)
SENDER_THREADS = env_int("SERENO_SENDER_THREADS", 8)

# --- logging: never the client address ---------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("SERENO_LOG_LEVEL", "INFO")},
    "loggers": {
        # django.request and django.server log the request line and, for errors, the request
        # (META holds REMOTE_ADDR): keep them to their message only.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "django.security.DisallowedHost": {"handlers": [], "propagate": False},
        # A handler of its own stops run_huey from adding a second one (each line twice).
        "huey": {"handlers": ["console"], "propagate": False},
    },
}
