"""Settings from the environment: clear errors for bad values, the embedded default otherwise."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard import env

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("raw", "value"), [("1", True), ("yes", True), ("off", False), ("", False)]
)
def test_booleans(monkeypatch: pytest.MonkeyPatch, raw: str, value: bool) -> None:
    monkeypatch.setenv("X_FLAG", raw)
    assert env.env_bool("X_FLAG", not value) is value


def test_bad_boolean_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG='maybe' is not a boolean"):
        env.env_bool("DEBUG", False)


def test_bad_number_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARRIER_MAX_STEPS_V1", "ten")
    with pytest.raises(ImproperlyConfigured, match="HARRIER_MAX_STEPS_V1='ten'"):
        env.env_int("HARRIER_MAX_STEPS_V1", 10)
    monkeypatch.setenv("HARRIER_MAX_STEPS_V1", "0")
    with pytest.raises(ImproperlyConfigured, match="must be at least 1"):
        env.env_int("HARRIER_MAX_STEPS_V1", 10, minimum=1)


def test_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", " a.example.com, b.example.com ,,")
    assert env.env_list("ALLOWED_HOSTS", []) == ["a.example.com", "b.example.com"]


def test_embedded_database_is_sqlite_in_wal_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = env.database_from_env(tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "harrier.sqlite3")
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_postgres_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://harrier:pw@db.internal:5433/harrier")
    config = env.database_from_env(tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "harrier")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/x", "scheme 'mysql'"),
        ("postgres://localhost", "names no database"),
        ("sqlite://", "needs a file path"),
    ],
)
def test_bad_database_url_is_explained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, message: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ImproperlyConfigured, match=message):
        env.database_from_env(tmp_path)


def test_embedded_broker_is_the_filesystem_under_var(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    url, options = env.broker_from_env(tmp_path)
    assert url == "filesystem://"
    assert options["data_folder_in"] == str(tmp_path / "broker" / "queue")
    assert Path(options["control_folder"]).is_dir()  # broadcast (revoke, inspect) works
    assert options["polling_interval"] == 0.1


def test_bad_broker_url_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "sqs://queue")
    with pytest.raises(ImproperlyConfigured, match="CELERY_BROKER_URL has scheme 'sqs'"):
        env.broker_from_env(tmp_path)


def _start_django(**overrides: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **overrides}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_start_up_fails_with_a_readable_message_for_a_bad_value(tmp_path: Path) -> None:
    result = _start_django(DJANGO_SETTINGS_MODULE="dashboard.settings", DEBUG="sometimes")
    assert result.returncode != 0
    assert "DEBUG='sometimes' is not a boolean" in result.stderr


def test_start_up_with_nothing_set_uses_var_dir(tmp_path: Path) -> None:
    environment = {
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "HARRIER_VAR_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "CELERY_BROKER_URL": "",
        "SECRET_KEY": "",
    }
    assert _start_django(**environment).returncode == 0
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "broker" / "queue").is_dir()


def test_short_secret_key_is_refused(tmp_path: Path) -> None:
    result = _start_django(
        DJANGO_SETTINGS_MODULE="dashboard.settings",
        SECRET_KEY="short",
        HARRIER_VAR_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be at least 32 characters" in result.stderr
