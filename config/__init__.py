"""The Django project: settings, URLs, the WSGI entry point and the Celery application. It wires the apps together
and holds no domain code."""

from config.celery import app as celery_app

__all__ = ("celery_app",)
