"""Settings read the environment strictly; production refuses to start without its secrets."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "PII_HASH_KEY": secrets.token_urlsafe(32),
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/collections",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "collections.example.com",
}


def manage(*args, env):
    clean = {k: v for k, v in os.environ.items() if k not in {*PRODUCTION, "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "PII_HASH_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "ALLOWED_HOSTS"]
)
def test_production_without_a_required_setting_fails_at_start_up_with_a_clear_message(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert f"{missing} must be set when DJANGO_ENV=production" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_a_short_or_development_secret_key():
    result = manage("check", env={**PRODUCTION, "SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "at least 50 characters" in result.stderr


def test_check_deploy_with_production_settings_reports_no_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_an_unknown_environment_name_is_rejected():
    result = manage("check", env={"DJANGO_ENV": "prod"})
    assert result.returncode != 0 and "DJANGO_ENV must be" in result.stderr


def test_twilio_backend_without_credentials_is_rejected():
    result = manage("check", env={"NOTIFICATIONS_BACKEND": "twilio"})
    assert result.returncode != 0
    assert "TWILIO_ACCOUNT_SID" in result.stderr and "TWILIO_AUTH_TOKEN" in result.stderr


def test_the_development_default_needs_no_configuration(settings):
    assert settings.TIME_ZONE == "UTC" and settings.USE_TZ is True
    result = manage("check", env={"DATABASE_URL": "", "CELERY_BROKER_URL": ""})
    assert result.returncode == 0, result.stderr


def email_settings(env):
    names = "EMAIL_BACKEND EMAIL_HOST EMAIL_PORT EMAIL_HOST_USER EMAIL_HOST_PASSWORD EMAIL_USE_TLS EMAIL_USE_SSL"
    code = f"from django.conf import settings as s; print('|'.join(str(getattr(s, n)) for n in {names.split()!r}))"
    result = manage("shell", "-c", code, env={"DATABASE_URL": "", "CELERY_BROKER_URL": "", **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1].split("|")


def test_email_goes_to_the_console_unless_an_smtp_server_is_named():
    assert email_settings({})[0] == "django.core.mail.backends.console.EmailBackend"
    smtp = "django.core.mail.backends.smtp.EmailBackend"
    assert email_settings({"EMAIL_URL": "smtp+tls://mailer:s3cret@smtp.example.com:2587"}) == [
        smtp, "smtp.example.com", "2587", "mailer", "s3cret", "True", "False"
    ]  # fmt: skip
    assert email_settings({"EMAIL_URL": "smtp+ssl://smtp.example.com"})[2:] == ["465", "", "", "False", "True"]
    assert email_settings({"EMAIL_HOST": "relay.internal", "EMAIL_PORT": "25"})[:3] == [smtp, "relay.internal", "25"]
    refused = manage("check", env={"EMAIL_HOST": "relay", "EMAIL_USE_TLS": "true", "EMAIL_USE_SSL": "true"})
    assert refused.returncode != 0 and "EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive" in refused.stderr


def test_every_beat_entry_names_a_task_the_worker_knows(settings):
    """A typo in CELERY_BEAT_SCHEDULE would make beat send a message no worker can run: every entry's task must be
    registered with the app the worker starts."""
    from config.celery import app

    app.loader.import_default_modules()
    unknown = {name: entry["task"] for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
               if entry["task"] not in app.tasks}  # fmt: skip
    assert not unknown, unknown
    assert "performance-figures" in settings.CELERY_BEAT_SCHEDULE
