"""The Celery application: configured from Django settings (CELERY_* names), tasks discovered per app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collections_app.settings")

app = Celery("collections_app")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
