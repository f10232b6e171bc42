"""Settings for the collections case-management system.

Everything that differs between machines comes from the environment (see .env.example), parsed strictly by
django-environ. ``DJANGO_ENV`` chooses the defaults:

* ``development`` (the default): the embedded setup — a SQLite file, Celery on its filesystem transport, messages
  to the console backend, DEBUG on, an insecure development secret. Nothing to configure.
* ``production``: DEBUG off, HTTPS-only cookies and HSTS, and SECRET_KEY, DATABASE_URL, CELERY_BROKER_URL and
  ALLOWED_HOSTS are required — a missing one stops start-up with a message naming it, rather than running with a
  development default by accident.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # runtime files of the embedded default (SQLite, Celery queue folders); git-ignored

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")  # variables already in the environment win

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}.")
PRODUCTION = DJANGO_ENV == "production"

_DEV_SECRET_KEY = "django-insecure-development-only-never-use-in-production"  # noqa: S105


def _required_in_production(name: str, default: str) -> str:
    """Return the variable; in production it must be set explicitly (no silent development default)."""
    value = env.str(name, default="")
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(
            f"{name} must be set when DJANGO_ENV=production (see .env.example); refusing to start without it."
        )
    return default


SECRET_KEY = _required_in_production("SECRET_KEY", _DEV_SECRET_KEY)
if PRODUCTION and (SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured("SECRET_KEY must be a random string of at least 50 characters in production.")

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DJANGO_ENV=production (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# ---------------------------------------------------------------------------------------------------------------
# Applications
# ---------------------------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "django_celery_beat",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "phonenumber_field",
    "django_fsm",
    "axes",
    "csp",
    "core",
    "loans",
    "compliance",
    "notifications",
    "collections_app",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless its view is marked public (core.web.public: health check, webhooks, the API).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # The signed-in user's language and time zone (their own, else their team's).
    "collections_app.middleware.UserLocaleMiddleware",
    # Pages of a signed-in user and API answers show personal data: no browser or proxy may keep a copy.
    "core.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "collections_app.context_processors.roles",
                "collections_app.context_processors.alerts",
            ],
        },
    },
]

# ---------------------------------------------------------------------------------------------------------------
# Database: DATABASE_URL (postgres://user:pass@host:5432/name); the embedded default is a SQLite file.
# ---------------------------------------------------------------------------------------------------------------
VAR_DIR.mkdir(exist_ok=True)
_database_url = _required_in_production("DATABASE_URL", f"sqlite:///{VAR_DIR / 'collections.sqlite3'}")
DATABASES = {"default": env.db_url_config(_database_url)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: WAL plus IMMEDIATE transactions avoid "database is locked" on writes.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

# Proxies in front of the app that append to X-Forwarded-For (0: clients connect directly). The client's address
# decides sign-in lockouts; trusting the header without a proxy would let anyone choose their address.
PROXY_COUNT = env.int("PROXY_COUNT", default=0)

# Sign-in lockout (django-axes): LOGIN_FAILURE_LIMIT failed sign-ins for one username from one address lock that
# pair out for LOGIN_COOLOFF_MINUTES from the last counted failure (429 and a page saying so; attempts while locked
# are refused unchecked and do not extend it, so the page's "try again in N minutes" holds); a successful sign-in
# clears the count. Other users, and the same user from elsewhere, are not affected.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "core.security.locked_out"
AXES_CLIENT_IP_CALLABLE = "core.security.client_ip"

# ---------------------------------------------------------------------------------------------------------------
# Internationalisation: English and Simplified Chinese; all instants stored in UTC.
# ---------------------------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------------------------------------------------------
# Static files: vendored (Bootstrap, htmx) so the system works offline; served by whitenoise.
# ---------------------------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# ---------------------------------------------------------------------------------------------------------------
# Security: strict in production (python manage.py check --deploy stays quiet; see README).
# ---------------------------------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): scripts, styles, fonts and requests only from this site — no inline script,
# style or event handler anywhere (templates use data attributes and static/js/app.js; htmx is told not to inject
# its indicator styles). Images may also be data: URIs (Bootstrap's icons are).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Key for hashing national ids (lookup without storing them in clear). Separate from SECRET_KEY so that rotating
# the session secret does not orphan every stored hash.
PII_HASH_KEY = _required_in_production("PII_HASH_KEY", "development-only-pii-hash-key")

# The API's throttle counts are kept in the cache: with several web processes it must be one they share
# (CACHE_URL=redis://…/1; docker-compose sets it). The default is each process's own memory.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# Request bodies read into memory: Django's 2.5 MB for pages and the API, except the bulk intake endpoints
# (loans/bulk/, payments/bulk/: up to 10,000 rows), which take BULK_UPLOAD_MAX_BYTES. 10,000 loan rows shaped like
# the README's example are 6.8 MiB as Python's json.dumps writes them (Chinese escaped as \uXXXX): 16 MiB leaves
# room for longer names and addresses and a few explicit installments per loan (twelve each would need ~21 MiB:
# send those in smaller batches). Larger bodies get a JSON 413 naming the limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
BULK_UPLOAD_MAX_BYTES = env.int("BULK_UPLOAD_MAX_BYTES", default=16 * 1024 * 1024)

# ---------------------------------------------------------------------------------------------------------------
# Celery: Redis in production/tests, the filesystem transport for the embedded default.
# ---------------------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = _required_in_production("CELERY_BROKER_URL", "filesystem://")
# The filesystem transport's folders (the embedded default).
CELERY_QUEUE_DIR = Path(env.str("CELERY_QUEUE_DIR", default=str(VAR_DIR / "celery")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _folder in ("queue", "processed", "control"):
        (CELERY_QUEUE_DIR / _folder).mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport, stopping promptly on Ctrl-C (see the module).
    CELERY_BROKER_TRANSPORT = "config.kombu_filesystem:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_QUEUE_DIR / "queue"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "queue"),
        "processed_folder": str(CELERY_QUEUE_DIR / "processed"),
        # The exchange tables (kombu's default is ./control, i.e. wherever the process was started).
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
        "store_processed": False,
        # How often an idle worker looks at the queue folder, and so how soon it notices a shutdown.
        "polling_interval": 0.2,
    }
else:
    # Longer than any task may run, so Redis does not redeliver a message that is still being worked on.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ROUTES = {"notifications.tasks.send_batch": {"queue": "provider"}}
# Recovery after a fault (see the README): the watchdog runs this often; with the stall thresholds below, dispatch
# and an unfinished sweep run go again within two minutes of a killed worker or a restarted broker.
WATCHDOG_INTERVAL_SECONDS = env.int("WATCHDOG_INTERVAL_SECONDS", default=30)
# How long the performance page's figures are reused before they are computed again (the page says when).
PERFORMANCE_FIGURES_SECONDS = env.int("PERFORMANCE_FIGURES_SECONDS", default=300)
CELERY_BEAT_SCHEDULE = {
    # Due messages are claimed every minute and sent through the provider queue (never with countdown or eta).
    "dispatch-due-messages": {"task": "notifications.tasks.dispatch_due", "schedule": 60.0},
    # The watchdog: claims and sweep chunks that stopped moving (a killed worker, a restarted broker) go again.
    "reap-stale-claims": {"task": "notifications.tasks.reap_claims", "schedule": float(WATCHDOG_INTERVAL_SECONDS)},
    "sweep-watchdog": {"task": "collections_app.tasks.sweep_watchdog", "schedule": float(WATCHDOG_INTERVAL_SECONDS)},
    "daily-sweep": {
        "task": "collections_app.tasks.daily_sweep",
        # Each product is swept for its own local date; 06:00 UTC is early morning in the Americas and afternoon in
        # China, the same calendar date in both. Admins can move it in the admin (periodic tasks).
        "schedule": crontab(hour=env.int("SWEEP_HOUR_UTC", default=6), minute=0),
    },
    # REC-01: recordings past their retention are deleted at the provider, unless under legal hold.
    "purge-recordings": {
        "task": "notifications.tasks.purge_recordings",
        "schedule": crontab(hour=env.int("RECORDINGS_PURGE_HOUR_UTC", default=3), minute=30),
    },
    # The performance page's default figures of every scope, recomputed before they go stale (issue 14: the page
    # then reads them ready instead of aggregating 100,000 cases on a manager's click).
    "performance-figures": {
        "task": "collections_app.tasks.refresh_performance_figures",
        "schedule": PERFORMANCE_FIGURES_SECONDS * 0.8,
    },
    # The print queue's batch of the day before (one PDF of its letters and a manifest CSV) for the mail house.
    "print-batch": {
        "task": "notifications.tasks.print_batch",
        "schedule": crontab(hour=env.int("PRINT_BATCH_HOUR_UTC", default=0), minute=15),
    },
}
SWEEP_CHUNKS = env.int("SWEEP_CHUNKS", default=4)
# A sweep run with no chunk finished (or queued again) for this long has its unfinished chunks that no worker is
# running queued again; one still unfinished this long after it started is shown to managers and logged.
SWEEP_STALL_SECONDS = env.int("SWEEP_STALL_SECONDS", default=60)
SWEEP_DEADLINE_MINUTES = env.int("SWEEP_DEADLINE_MINUTES", default=30)
# Pauses between attempts of a task's unit of work that the database failed (a restart, a dropped connection).
DB_RETRY_DELAYS = env.list("DB_RETRY_DELAYS", cast=float, default=[1.0, 2.0, 4.0, 8.0, 15.0])

# ---------------------------------------------------------------------------------------------------------------
# Notifications (provider backend) and Twilio
# ---------------------------------------------------------------------------------------------------------------
NOTIFICATIONS_BACKEND = env.str("NOTIFICATIONS_BACKEND", default="console")
if NOTIFICATIONS_BACKEND not in {"console", "locmem", "twilio"}:
    raise ImproperlyConfigured("NOTIFICATIONS_BACKEND must be one of console, locmem, twilio.")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
# The public base URL Twilio calls back (behind a proxy the request's own host is not what Twilio signed).
TWILIO_WEBHOOK_BASE_URL = env.str("TWILIO_WEBHOOK_BASE_URL", default="")
if NOTIFICATIONS_BACKEND == "twilio":
    _missing = [
        name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WEBHOOK_BASE_URL") if not globals()[name]
    ]
    if not (TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID):
        _missing.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
    if _missing:
        raise ImproperlyConfigured(f"NOTIFICATIONS_BACKEND=twilio needs {', '.join(_missing)}.")
# Tests and benchmarks only: send the SDK's requests to a local mock of Twilio's API instead of api.twilio.com.
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")
TWILIO_TIMEOUT_SECONDS = env.float("TWILIO_TIMEOUT_SECONDS", default=10.0)
LENDER_NAME = env.str("LENDER_NAME", default="Example Lending")
# The print queue: each letter's PDF in LETTERS_DIR/<date>/, and each day's batch (one PDF of the day's letters and a
# manifest CSV) for the print and mail house to collect.
LETTERS_DIR = env.str("LETTERS_DIR", default=str(VAR_DIR / "letters"))
# Recordings of the calls the console backend simulates (Twilio keeps its own; the app streams them from there).
RECORDINGS_DIR = env.str("RECORDINGS_DIR", default=str(VAR_DIR / "recordings"))
LENDER_HELP_PHONE = env.str("LENDER_HELP_PHONE", default="+1 800 555 0100")
# The lender's postal address on the letterhead of a product that names none (LoanProduct.lender_address); lines
# separated by "|" in the environment.
LENDER_ADDRESS = env.str("LENDER_ADDRESS", default="1 Example Plaza|Springfield, IL 62701|United States").replace(
    "|", "\n"
)
# Documents (letters and notices as PDFs, notifications.documents): kept here, outside every folder the web server
# serves; a document is handed out only through the case page's download, to those who may see the case.
DOCUMENTS_DIR = env.str("DOCUMENTS_DIR", default=str(VAR_DIR / "documents"))
# Documents borrowers send with a dispute from their page: kept here, outside every folder the web server serves
# (only the managers' disputes list hands one out), PDF, JPEG or PNG recognised by content, at most this many bytes.
DISPUTE_UPLOADS_DIR = env.str("DISPUTE_UPLOADS_DIR", default=str(VAR_DIR / "disputes"))
DISPUTE_UPLOAD_MAX_BYTES = env.int("DISPUTE_UPLOAD_MAX_BYTES", default=5 * 1024 * 1024)

# The borrower's page (portal/): messages' {pay_link} is PORTAL_BASE_URL/p/<token>, a link issued per message that
# works PORTAL_LINK_DAYS and can be revoked. A product may ask the borrower to confirm who they are first
# (LoanProduct.portal_factor): PORTAL_CHECK_ATTEMPTS wrong answers in a row lock the link for PORTAL_LOCK_MINUTES,
# a right one is remembered in that browser for PORTAL_CHECKED_MINUTES. Requests per minute, per link and per
# address (counted in the cache: set CACHE_URL to a shared Redis when several web processes run).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
PORTAL_LINK_DAYS = env.int("PORTAL_LINK_DAYS", default=30)
PORTAL_CHECK_ATTEMPTS = env.int("PORTAL_CHECK_ATTEMPTS", default=5)
PORTAL_LOCK_MINUTES = env.int("PORTAL_LOCK_MINUTES", default=30)
PORTAL_CHECKED_MINUTES = env.int("PORTAL_CHECKED_MINUTES", default=30)
PORTAL_RATE_PER_LINK = env.int("PORTAL_RATE_PER_LINK", default=30)
PORTAL_RATE_PER_ADDRESS = env.int("PORTAL_RATE_PER_ADDRESS", default=60)

# ---------------------------------------------------------------------------------------------------------------
# E-mail to borrowers (notifications.mail), through Django's e-mail framework. EMAIL_URL names the server in one
# variable (smtp://user:password@host:587 — smtp+tls:// for STARTTLS, smtp+ssl:// for implicit TLS), or EMAIL_HOST,
# EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS / EMAIL_USE_SSL one by one. Neither: the console
# backend (`make run` prints each e-mail in the worker's log). EMAIL_TIMEOUT bounds each SMTP call: past it the
# e-mail goes to review, never resent blindly (the server may have taken it).
# ---------------------------------------------------------------------------------------------------------------
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
if env.str("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
    EMAIL_PORT = _email["EMAIL_PORT"] or (465 if _email.get("EMAIL_USE_SSL") else 587 if _email.get("EMAIL_USE_TLS")
                                          else 25)  # fmt: skip
    EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
    EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
    EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
    EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
elif env.str("EMAIL_HOST", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.str("EMAIL_HOST")
    EMAIL_PORT = env.int("EMAIL_PORT", default=587)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
if EMAIL_BACKEND.endswith("smtp.EmailBackend") and EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: choose one.")
# Who the borrowers' e-mails come from ("Example Lending <collections@example.com>"); its domain names each
# Message-ID. EMAIL_UNSUBSCRIBE_MAILTO: an address whose mail is read and acted on as opt-outs, offered as the second
# List-Unsubscribe method (RFC 2369) beside the one-click link; empty, only the link is offered.
DEFAULT_FROM_EMAIL = env.str("EMAIL_FROM", default=f"{LENDER_NAME} <collections@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_UNSUBSCRIBE_MAILTO = env.str("EMAIL_UNSUBSCRIBE_MAILTO", default="")
# The shared secret the mail provider's event relay signs bounces and complaints with (/webhooks/email/events/,
# README "E-mail"); empty, every event is refused (403). EMAIL_WEBHOOK_TOLERANCE_SECONDS: how old a signed event may
# be (a replayed one is older).
EMAIL_WEBHOOK_SECRET = env.str("EMAIL_WEBHOOK_SECRET", default="")
EMAIL_WEBHOOK_TOLERANCE_SECONDS = env.int("EMAIL_WEBHOOK_TOLERANCE_SECONDS", default=300)
# ---------------------------------------------------------------------------------------------------------------
# Online payments (loans.payments): the console provider completes payments at once with no network (make run);
# stripe takes cards through PaymentIntents and confirms them by signed webhooks (STRIPE_WEBHOOK_SECRET).
# ---------------------------------------------------------------------------------------------------------------
PAYMENT_PROVIDER = env.str("PAYMENT_PROVIDER", default="console")
if PAYMENT_PROVIDER not in {"console", "stripe"}:
    raise ImproperlyConfigured("PAYMENT_PROVIDER must be console or stripe.")
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
# Without it every Stripe webhook is refused (400): an unsigned event is never believed.
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
if PAYMENT_PROVIDER == "stripe" and not (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET):
    raise ImproperlyConfigured("PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET.")
# Tests only: send the SDK's requests to localstripe instead of Stripe's API.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
# Stripe.js, loaded by the card step only (the borrower's page itself loads nothing from another site); tests point
# it at localstripe's stand-in (<localstripe>/js.stripe.com/v3/). Its site is added to that one page's CSP.
STRIPE_JS_URL = env.str("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
# Bank transfers: the account borrowers pay into, shown with each loan's own reference (ISO 11649, "RF…").
BANK_TRANSFER_ACCOUNT_NAME = env.str("BANK_TRANSFER_ACCOUNT_NAME", default="Example Lending Collections")
BANK_TRANSFER_ACCOUNT_NUMBER = env.str("BANK_TRANSFER_ACCOUNT_NUMBER", default="GB33 BUKB 2020 1555 5555 55")
BANK_TRANSFER_BANK_NAME = env.str("BANK_TRANSFER_BANK_NAME", default="Example Bank")

# Dispatch: rows claimed per batch, how long a claim may go untouched by its batch before the watchdog takes it back
# (a running batch touches its claims every third of that), how long a batch may start sends (below send_batch's
# soft time limit of 240 s, with a provider call's timeout to spare), how long sending pauses after an answer that
# may have been lost, retries of transient provider errors, and the provider queue's rate limit (batches per second
# per worker process).
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=100)
OUTBOX_BATCHES_PER_TICK = env.int("OUTBOX_BATCHES_PER_TICK", default=100)
OUTBOX_CLAIM_TIMEOUT_SECONDS = env.int("OUTBOX_CLAIM_TIMEOUT_SECONDS", default=60)
OUTBOX_BATCH_DEADLINE_SECONDS = env.int("OUTBOX_BATCH_DEADLINE_SECONDS", default=120)
PROVIDER_PAUSE_SECONDS = env.int("PROVIDER_PAUSE_SECONDS", default=60)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=5)
PROVIDER_RATE_LIMIT = env.str("PROVIDER_RATE_LIMIT", default="10/s")
# Provider calls in flight per worker process (one on the embedded SQLite default: a single writer at a time).
PROVIDER_CONCURRENCY = env.int(
    "PROVIDER_CONCURRENCY", default=1 if DATABASES["default"]["ENGINE"].endswith("sqlite3") else 4
)
SEND_BATCH_SOFT_TIME_LIMIT = 240  # seconds (notifications.tasks.send_batch)
if OUTBOX_BATCH_DEADLINE_SECONDS + TWILIO_TIMEOUT_SECONDS >= SEND_BATCH_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"OUTBOX_BATCH_DEADLINE_SECONDS + TWILIO_TIMEOUT_SECONDS must stay below {SEND_BATCH_SOFT_TIME_LIMIT} s: the "
        "last sends of a batch must end before its soft time limit."
    )

# ---------------------------------------------------------------------------------------------------------------
# Logging: personal data (phone numbers, national ids) is masked in every log record.
# ---------------------------------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_pii": {"()": "core.logging.MaskPersonalDataFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_pii"]},
        "server": {"class": "logging.StreamHandler", "formatter": "server", "filters": ["mask_pii"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own defaults give these loggers handlers without the mask (runserver's request log prints the
        # query string: a search by phone number): replace them. "django" then logs through the root's handler.
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "INFO"},
        # The SDK logs every request and its headers at INFO: far too much, and it would print numbers.
        "twilio.http_client": {"level": "WARNING"},
    },
}

# ---------------------------------------------------------------------------------------------------------------
# REST framework (the API itself arrives with the API issue; these are the defaults it builds on)
# ---------------------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: a request without valid credentials gets 401 with "WWW-Authenticate: Token", not a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    # DRF's JSON parser with a nesting limit (JSON nested 100,000 levels deep is a 400, not a RecursionError).
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.base.exception_handler",
    # 429 with Retry-After past these rates: per signed-in user (their token or session), and the bulk intake
    # endpoints on a budget of their own (each call may write 10,000 rows). Requests without valid credentials are
    # answered 401 before any throttle counts (every endpoint needs them): limit those at the proxy.
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttles.UserThrottle",
        "api.throttles.ScopedThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_USER", default="1200/minute"),
        "bulk": env.str("API_THROTTLE_BULK", default="120/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Collections API",
    "DESCRIPTION": "Borrowers, loans, payments, collection cases, the compliance gate and the outbox (v1).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The description and Swagger UI are for signed-in users (a token or a session), like the API itself.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI from drf-spectacular-sidecar: served by this app, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two kinds of "channel": where the gate checks a contact, and what the outbox sends.
    "ENUM_NAME_OVERRIDES": {
        "ContactChannelEnum": ["call", "sms", "email", "letter", "visit"],
        "MessageChannelEnum": "notifications.models.Channel",
        # Five kinds of "kind": phones, e-mail addresses, restrictions, holds, forbearance.
        "PhoneKindEnum": "loans.models.PhoneKind",
        "EmailKindEnum": "loans.models.EmailKind",
        "RestrictionKindEnum": "compliance.models.RestrictionKind",
        "HoldKindEnum": "collections_app.models.HoldKind",
        "ForbearanceKindEnum": "collections_app.models.ForbearanceKind",
    },
}

# Demo data: the sizes `manage.py seed_demo` builds when `make run` finds an empty database.
DEMO_LOANS = env.int("DEMO_LOANS", default=500)
DEMO_DAYS = env.int("DEMO_DAYS", default=120)  # days of history, each lived through the real sweep
