"""Typed readers for settings that come from the environment.

Every reader raises ImproperlyConfigured naming the variable and the value it
could not use, so a typo in a deployment fails at start-up with a sentence a
person can act on instead of a traceback deep inside Django or Celery.
"""

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

SUPPORTED_DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql")
SUPPORTED_BROKER_SCHEMES = ("filesystem", "redis", "rediss", "amqp", "amqps", "pyamqp")


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off."
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_from_env(var_dir: Path) -> dict[str, Any]:
    """DATABASE_URL, or SQLite in WAL mode under var/ when it is unset."""
    raw = os.environ.get("DATABASE_URL", "").strip()
    if not raw:
        return sqlite_database(var_dir / "harrier.sqlite3")
    scheme = urlsplit(raw).scheme
    if scheme not in SUPPORTED_DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL has scheme {scheme!r}; Harrier supports "
            f"{', '.join(SUPPORTED_DATABASE_SCHEMES)} (e.g. postgres://user@host:5432/db)."
        )
    if scheme == "sqlite":
        path = raw.removeprefix("sqlite://").removeprefix("/") if raw != "sqlite://" else ""
        if not path:
            raise ImproperlyConfigured(
                "DATABASE_URL=sqlite:// needs a file path, e.g. sqlite:////srv/harrier/db.sqlite3"
            )
        return sqlite_database(Path("/" + path))
    try:
        config = dj_database_url.parse(raw, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several types for bad URLs
        raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {exc}") from exc
    if not config.get("NAME"):
        raise ImproperlyConfigured("DATABASE_URL names no database (add /dbname at the end).")
    return dict(config)


def sqlite_database(path: Path) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # WAL lets the web process read while a worker writes; IMMEDIATE
            # takes the write lock up front so concurrent writers queue on
            # busy_timeout instead of failing with "database is locked".
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }


def broker_from_env(var_dir: Path) -> tuple[str, dict[str, Any]]:
    """CELERY_BROKER_URL and its transport options; a filesystem queue under var/ by default."""
    raw = os.environ.get("CELERY_BROKER_URL", "").strip() or "filesystem://"
    scheme = urlsplit(raw).scheme
    if scheme not in SUPPORTED_BROKER_SCHEMES:
        raise ImproperlyConfigured(
            f"CELERY_BROKER_URL has scheme {scheme!r}; Harrier supports "
            f"{', '.join(SUPPORTED_BROKER_SCHEMES)} (e.g. redis://127.0.0.1:6379/0)."
        )
    if scheme != "filesystem":
        return raw, {}
    broker_dir = var_dir / "broker"
    folders = {
        "data_folder_in": broker_dir / "queue",
        "data_folder_out": broker_dir / "queue",
        "processed_folder": broker_dir / "processed",
        "control_folder": broker_dir / "control",
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {name: str(folder) for name, folder in folders.items()}
    options.update(store_processed=False, polling_interval=0.1)
    return raw, options
