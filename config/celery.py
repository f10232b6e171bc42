"""The Celery application: configured from Django settings (CELERY_* names), tasks discovered per app."""

import logging
import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger
from celery.utils.log import get_multiprocessing_logger

from core.logging import mask_handlers

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def mask_personal_data_in_celery_logs(logger: logging.Logger, **kwargs: object) -> None:
    """The worker and beat replace the root logger's handlers (Django's, with the mask) by their own
    (worker_hijack_root_logger) and give task loggers one more: mask personal data in those too."""
    multiprocessing_logger = get_multiprocessing_logger()  # None only without billiard, which Celery depends on
    mask_handlers(logger, *([multiprocessing_logger] if multiprocessing_logger is not None else []))
