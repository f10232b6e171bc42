"""WSGI entry point (gunicorn collections_app.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collections_app.settings")

application = get_wsgi_application()
