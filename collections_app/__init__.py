"""The Django project and the collection-case domain."""

from collections_app.celery import app as celery_app

__all__ = ("celery_app",)
