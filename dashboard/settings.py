"""Harrier's settings. Everything a deployment changes comes from the environment.

With nothing set, Harrier runs on the embedded default: SQLite (WAL) and Celery's
filesystem broker, both under ./var/. DATABASE_URL=postgres://... and
CELERY_BROKER_URL=redis://... move the same code onto PostgreSQL and Redis.
"""

import os
import socket
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from dashboard.env import (
    broker_from_env,
    database_from_env,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("HARRIER_VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    # The embedded default keeps a generated key in var/ so that sessions and
    # API-key hashes survive restarts without the operator having to set one.
    _secret_file = VAR_DIR / "secret_key"
    if not _secret_file.exists():
        import secrets

        _secret_file.parent.mkdir(parents=True, exist_ok=True)
        _secret_file.write_text(secrets.token_urlsafe(50))
        _secret_file.chmod(0o600)
    SECRET_KEY = _secret_file.read_text().strip()
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "ninja",
    "dashboard",
    "runs",
    "sessions.apps.BrowserSessionsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # The dashboard's current organization and its switcher, for every page.
                "dashboard.context_processors.dashboard",
            ],
        },
    },
]

DATABASES = {"default": database_from_env(VAR_DIR)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so that worker processes started by the tests see it; one
    # per test process, so that two test runs in one checkout do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The dashboard's sign-in page; after signing in (or out) people land on the overview (or
# the sign-in page). The admin panel keeps its own login at /admin/login/.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "media")},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send X-CSRFToken
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = broker_from_env(VAR_DIR)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "harrier")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "close-expired-browser-sessions": {
        "task": "sessions.tasks.close_expired_sessions",
        "schedule": env_float("HARRIER_SESSION_SWEEP_SECONDS", 30.0, minimum=1.0),
    },
    "check-browser-sessions": {
        "task": "sessions.tasks.check_sessions",
        "schedule": env_float("HARRIER_SESSION_CHECK_SECONDS", 15.0, minimum=1.0),
    },
    "finish-stale-runs": {
        "task": "runs.sweep_stale_runs",
        "schedule": env_float("HARRIER_RUN_SWEEP_SECONDS", 30.0, minimum=1.0),
    },
}

# --- Harrier ----------------------------------------------------------------
# Steps a run may take when the request gives no max_steps, by engine (Skyvern's defaults).
HARRIER_DEFAULT_MAX_STEPS = {
    "skyvern-1.0": env_int("HARRIER_MAX_STEPS_V1", 10, minimum=1),
    "skyvern-2.0": env_int("HARRIER_MAX_STEPS_V2", 25, minimum=1),
}
# The most steps a request may ask for: a runaway agent costs model tokens.
HARRIER_MAX_STEPS_LIMIT = env_int("HARRIER_MAX_STEPS_LIMIT", 500, minimum=1)
# Loopback, private and link-local targets (the browser's start URL, webhooks,
# TOTP endpoints) are refused unless an operator running Harrier next to the
# sites it automates says otherwise.
HARRIER_ALLOW_PRIVATE_NETWORKS = env_bool("HARRIER_ALLOW_PRIVATE_NETWORKS", False)
# HMAC key for stored API-key hashes; rotating it invalidates every API key.
HARRIER_API_KEY_PEPPER = env_str("HARRIER_API_KEY_PEPPER", SECRET_KEY)

# --- Runs and the agent ---------------------------------------------------------
# A run that has not finished after this long ends as timed_out.
HARRIER_RUN_TIMEOUT_SECONDS = env_float("HARRIER_RUN_TIMEOUT_SECONDS", 30 * 60, minimum=1.0)
# How often a worker records that it is still executing a run, and how old that
# record may get before the sweep decides the worker died.
HARRIER_HEARTBEAT_SECONDS = env_float("HARRIER_HEARTBEAT_SECONDS", 5.0, minimum=0.1)
HARRIER_HEARTBEAT_STALE_SECONDS = env_float("HARRIER_HEARTBEAT_STALE_SECONDS", 90.0, minimum=1.0)
# Attempts per step: a failed action is told to the model, which tries again.
HARRIER_STEP_RETRIES = env_int("HARRIER_STEP_RETRIES", 3, minimum=1)
HARRIER_ACTION_TIMEOUT_MS = env_int("HARRIER_ACTION_TIMEOUT_MS", 10_000, minimum=100)
HARRIER_NAVIGATION_TIMEOUT_MS = env_int("HARRIER_NAVIGATION_TIMEOUT_MS", 30_000, minimum=100)
HARRIER_MAX_ELEMENTS = env_int("HARRIER_MAX_ELEMENTS", 300, minimum=10)

HARRIER_CHROMIUM_PATH = env_str("HARRIER_CHROMIUM_PATH", "/usr/bin/chromium")
# This worker host's name: browser sessions started here are reached through its queue.
HARRIER_WORKER_HOST = env_str("HARRIER_WORKER_HOST", socket.gethostname())
HARRIER_BROWSER_HEADLESS = env_bool("HARRIER_BROWSER_HEADLESS", True)
HARRIER_BROWSER_ARGS = env_list("HARRIER_BROWSER_ARGS", [])

# Models: any OpenAI-compatible chat-completions endpoint, or Anthropic.
LLM_PROVIDER = env_str("LLM_PROVIDER", "").strip().lower()
if LLM_PROVIDER not in ("", "openai", "anthropic"):
    raise ImproperlyConfigured(
        f"LLM_PROVIDER={LLM_PROVIDER!r} is not supported: use 'openai' (any OpenAI-compatible "
        "endpoint) or 'anthropic'."
    )
LLM_BASE_URL = env_str("LLM_BASE_URL", "")
LLM_API_KEY = env_str("LLM_API_KEY", "")
LLM_MODEL = env_str("LLM_MODEL", "")
LLM_TIMEOUT_SECONDS = env_float("LLM_TIMEOUT_SECONDS", 60.0, minimum=1.0)
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 3, minimum=0)
LLM_SUPPORTS_IMAGES = env_bool("LLM_SUPPORTS_IMAGES", True)
LLM_JSON_MODE = env_bool("LLM_JSON_MODE", True)
LLM_BACKOFF_BASE_SECONDS = env_float("LLM_BACKOFF_BASE_SECONDS", 1.0, minimum=0.0)
LLM_BACKOFF_MAX_SECONDS = env_float("LLM_BACKOFF_MAX_SECONDS", 30.0, minimum=0.0)
# Unset: not sent to OpenAI-compatible servers; Anthropic requires one (4096 then).
LLM_MAX_TOKENS = env_int("LLM_MAX_TOKENS", 0, minimum=0) or None
LLM_TEMPERATURE = env_float("LLM_TEMPERATURE", 0.0) if os.environ.get("LLM_TEMPERATURE") else None
