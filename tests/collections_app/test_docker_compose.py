"""docker-compose.yml cannot run here (no Docker engine), so check it against the settings instead."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS = (ROOT / "config" / "settings.py").read_text()
SERVICES = COMPOSE["services"]


def test_it_runs_web_worker_beat_postgres_15_redis_7_and_a_migrate_step():
    assert {"web", "worker", "beat", "postgres", "redis", "migrate"} <= set(SERVICES)
    assert SERVICES["postgres"]["image"] == "postgres:15"
    assert SERVICES["redis"]["image"] == "redis:7"


def test_web_runs_gunicorn_on_the_wsgi_module_and_celery_runs_the_project_app():
    assert SERVICES["web"]["command"][0] == "gunicorn"
    assert SERVICES["web"]["command"][1] == "config.wsgi:application"
    assert (ROOT / "config" / "wsgi.py").is_file()
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in SETTINGS
    for name, role in (("worker", "worker"), ("beat", "beat")):
        command = SERVICES[name]["command"]
        assert command[:3] == ["celery", "-A", "config"] and command[3] == role
    assert SERVICES["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]


def test_gunicorn_masks_personal_data_in_its_logs_with_the_project_config():
    command = SERVICES["web"]["command"]
    assert command[command.index("--config") + 1] == "python:config.gunicorn_conf"
    assert '"python:config.gunicorn_conf"' in (ROOT / "Dockerfile").read_text()


def test_app_services_wait_for_healthy_databases_and_a_finished_migration():
    for name in ("web", "worker", "beat"):
        depends = SERVICES[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    for name in ("postgres", "redis", "web"):
        assert SERVICES[name]["healthcheck"]["test"]


def test_web_health_check_uses_a_url_the_project_serves():
    probe = " ".join(SERVICES["web"]["healthcheck"]["test"])
    path = re.search(r"127\.0\.0\.1:8000(/\S*?)'", probe).group(1)
    assert path.strip("/") in (ROOT / "config" / "urls.py").read_text()


def test_every_variable_the_app_gets_is_one_the_settings_read_and_production_requirements_are_given():
    for name in ("web", "worker", "beat", "migrate"):
        env = SERVICES[name]["environment"]
        assert env["DJANGO_ENV"] == "production"
        for variable in env:
            assert f'"{variable}"' in SETTINGS, f"{name} sets {variable}, which settings.py never reads"
        for required in re.findall(r'_required_in_production\("(\w+)"', SETTINGS):
            assert required in env, f"{name} lacks {required}, which production requires"
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379")


def test_no_secret_is_written_in_the_file():
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("SECRET_KEY", "PII_HASH_KEY", "POSTGRES_PASSWORD", "TWILIO_AUTH_TOKEN"):
        for value in re.findall(rf"{secret}: (.*)", text):
            assert value.startswith("${"), f"{secret} must come from the environment, not the file"
