# Image for web, worker and beat (docker-compose.yml). Static files are collected at build time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home --uid 1000 app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# collectstatic runs with production storage (hashed, compressed names) and throw-away build-time values.
RUN DJANGO_ENV=production SECRET_KEY=build-only-build-only-build-only-build-only-build-only \
    PII_HASH_KEY=build-only DATABASE_URL=sqlite:////tmp/build.sqlite3 CELERY_BROKER_URL=memory:// \
    ALLOWED_HOSTS=build python manage.py collectstatic --noinput
USER app
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--config", "python:config.gunicorn_conf", \
     "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
