"""Settings shared by every environment. Values come from the environment (django-environ).

Embedded default: with no DATABASE_URL the hub runs on a SQLite file under var/, and with no
REDIS_URL tasks go through a broker that needs no server (see config/celery.py).
"""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="orderhub-insecure-development-key-do-not-use-in-production")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "django_htmx",
    "simple_history",
    "django_celery_beat",
    "orders.apps.OrdersConfig",
    "integrations.apps.IntegrationsConfig",
    "notifications.apps.NotificationsConfig",
    "alerts.apps.AlertsConfig",
    "aftersales.apps.AftersalesConfig",
    "reconciliation.apps.ReconciliationConfig",
    "finance.apps.FinanceConfig",
    "kpis.apps.KpisConfig",
    "dispatch.apps.DispatchConfig",
    "rules.apps.RulesConfig",
    # The open API (/api/v1/) and outbound webhooks: reads and writes through the apps above.
    "api.apps.ApiConfig",
    # Last: the demo data of `make run` (seed_demo) builds on every app above.
    "demo.apps.DemoConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'orderhub.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for each other instead of failing at once with "database is locked";
    # IMMEDIATE takes the write lock at BEGIN, which is what select_for_update means here.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Chinese first: the operators work in it; English ships as well.
LANGUAGE_CODE = env("LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
# Stored in UTC, shown in Shanghai time.
USE_TZ = True
TIME_ZONE = env("TIME_ZONE", default="Asia/Shanghai")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "admin:login"

# Orders
ORDERHUB_CURRENCY = env("ORDERHUB_CURRENCY", default="CNY")
# 合单: a buyer's orders placed at most this many hours apart may be merged into one parcel.
ORDERHUB_MERGE_WINDOW_HOURS = env.int("ORDERHUB_MERGE_WINDOW_HOURS", default=48)
# Orders above this amount (in ORDERHUB_CURRENCY) go to the priority packing lane.
ORDERHUB_PRIORITY_AMOUNT = env("ORDERHUB_PRIORITY_AMOUNT", default="500")
ORDERHUB_ATTACHMENT_MAX_BYTES = env.int("ORDERHUB_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)

# Celery: JSON only, no results kept, time limits so a stuck call cannot hold a worker forever.
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_TIMEZONE = TIME_ZONE
BROKER_FOLDER = Path(env("ORDERHUB_BROKER_FOLDER", default=str(VAR_DIR / "broker")))


def folder_broker_options(folder: Path) -> dict:
    """The embedded mode: kombu's filesystem transport, one folder shared by web, worker and beat."""
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }


CELERY_BROKER_TRANSPORT_OPTIONS = {} if REDIS_URL else folder_broker_options(BROKER_FOLDER)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # urllib3 logs request URLs at DEBUG, and robot webhook URLs carry their keys.
        "urllib3": {"level": "WARNING"},
    },
}

# `seed_demo` creates users with a known password: never under production settings.
ORDERHUB_DEMO_ALLOWED = True

# Outbox: how reactions are retried. Attempt n waits base·2^(n-1) seconds (with jitter), at most
# the cap; after the last attempt the message fails and the tech lead is told.
ORDERHUB_OUTBOX_MAX_ATTEMPTS = env.int("ORDERHUB_OUTBOX_MAX_ATTEMPTS", default=8)
ORDERHUB_OUTBOX_BACKOFF_BASE = env.float("ORDERHUB_OUTBOX_BACKOFF_BASE", default=2.0)
ORDERHUB_OUTBOX_BACKOFF_CAP = env.float("ORDERHUB_OUTBOX_BACKOFF_CAP", default=600.0)
# A pending message older than this is sent again by the sweep (a lost or unsent task).
ORDERHUB_OUTBOX_GRACE_SECONDS = env.int("ORDERHUB_OUTBOX_GRACE_SECONDS", default=30)
# How long one call to a shop's Shopify Admin API may take (shipment write-back); the outbox retries.
ORDERHUB_SHOPIFY_ADMIN_TIMEOUT = env.float("ORDERHUB_SHOPIFY_ADMIN_TIMEOUT", default=10.0)

# Reaction rules are cached per process this long (a rule saved in the admin applies at once in
# that process, within this many seconds everywhere else).
ORDERHUB_RULES_CACHE_SECONDS = env.float("ORDERHUB_RULES_CACHE_SECONDS", default=5.0)
# How long a process keeps a shop's usual order amount (intake's amount-anomaly check).
ORDERHUB_USUAL_AMOUNT_CACHE_SECONDS = env.float("ORDERHUB_USUAL_AMOUNT_CACHE_SECONDS", default=300.0)

# Publishing must not hang a request when the broker is down: the row is committed and the
# sweep will send it, so one quick try is enough.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5, "visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = env("ORDERHUB_TASK_QUEUE", default="celery")


def task_queues(default_queue: str) -> tuple[str, tuple]:
    """The calls lane's queue (carriers, chat robots, channels, email: reactions that wait on
    other servers) beside the default one, which holds the hub lane and the sweeps. A worker
    started without -Q takes both; the Procfile gives each its own worker."""
    from kombu import Exchange, Queue

    calls = env("ORDERHUB_CALLS_QUEUE", default=f"{default_queue}.calls")
    # Each on a direct exchange of its own name, as Celery declares its default queue.
    return calls, tuple(Queue(name, Exchange(name), routing_key=name) for name in (default_queue, calls))


ORDERHUB_CALLS_QUEUE, CELERY_TASK_QUEUES = task_queues(CELERY_TASK_DEFAULT_QUEUE)
# The outbox's hub lane takes this many due rows per transaction (orders.outbox.services).
ORDERHUB_OUTBOX_BATCH = env.int("ORDERHUB_OUTBOX_BATCH", default=50)
# A calls-lane kind that sends in batches (outbound webhooks) takes up to this many due rows
# per transaction; its calls go out together (ORDERHUB_WEBHOOK_PARALLEL at once).
ORDERHUB_CALLS_BATCH = env.int("ORDERHUB_CALLS_BATCH", default=25)
# A drain task gives way after this many seconds (it wakes another for the rest), and at most
# this many drains per lane are woken at once: about the workers' concurrency.
ORDERHUB_OUTBOX_DRAIN_SECONDS = env.float("ORDERHUB_OUTBOX_DRAIN_SECONDS", default=5.0)
ORDERHUB_OUTBOX_DRAINS = env.int("ORDERHUB_OUTBOX_DRAINS", default=4)
# After the broker could not be reached, a process stops trying after its commits for this
# long (the sweep still tries every 10 s): an outage costs a transition nothing.
ORDERHUB_BROKER_PAUSE_SECONDS = env.float("ORDERHUB_BROKER_PAUSE_SECONDS", default=5.0)
# With Redis, a commit wakes a lane only if no drain is already on its way (a flag in Redis):
# see orders.outbox.services. Off: every commit sends its wake-up.
ORDERHUB_OUTBOX_COALESCE_WAKES = env.bool("ORDERHUB_OUTBOX_COALESCE_WAKES", default=True)
CELERY_TASK_ACKS_LATE = True
# Keep the worker's database connection across tasks instead of a new one per task (3 ms each);
# Django checks it before use, and a task that still meets a dead one is retried by the outbox.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Beat reads its schedule from the database (django-celery-beat): the entries below are written
# there at each start; the alert sweeps' are created once and edited in the admin (alerts/beat.py).
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "outbox-redispatch": {"task": "orders.tasks.outbox_redispatch", "schedule": 10.0},
    "notifications-stamp-acted": {"task": "notifications.tasks.notifications_stamp_acted", "schedule": 60.0},
    # Open alerts nobody acknowledged in time go to the operations lead's chat robots.
    "alerts-escalate-due": {"task": "alerts.tasks.alerts_escalate_due", "schedule": 60.0},
    "tracking-sync": {"task": "integrations.tasks.tracking_sync", "schedule": 600.0},
    # Delivered orders are archived N days after delivery (hub settings); hourly is plenty.
    "orders-archive": {"task": "orders.tasks.orders_archive", "schedule": 3600.0},
    # Today's and yesterday's KPI snapshots for the dashboard's history.
    "kpi-daily-refresh": {"task": "kpis.tasks.kpi_daily_refresh", "schedule": 3600.0},
}

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="OrderHub <orderhub@localhost>")

# Webhook secrets may come from here as well as from the admin (Integrations → Webhook sources).
SHOPIFY_WEBHOOK_SECRET = env("SHOPIFY_WEBHOOK_SECRET", default="")
WMS_WEBHOOK_SECRET = env("WMS_WEBHOOK_SECRET", default="")
# A WMS webhook older than this is refused (replay protection).
WMS_WEBHOOK_MAX_AGE_SECONDS = env.int("WMS_WEBHOOK_MAX_AGE_SECONDS", default=300)
# How long the hub waits for a warehouse system to answer its request (an interception, 截单).
ORDERHUB_WMS_TIMEOUT = env.float("ORDERHUB_WMS_TIMEOUT", default=10.0)
# Outbound webhooks (api app): how long one POST may wait for the receiver's answer. Short: a
# slow receiver is retried later rather than holding a worker of the calls lane.
ORDERHUB_WEBHOOK_TIMEOUT = env.float("ORDERHUB_WEBHOOK_TIMEOUT", default=5.0)
# How many POSTs of one batch of deliveries are in flight at once, per worker process: a batch
# then waits about one slow answer, not the sum of them.
ORDERHUB_WEBHOOK_PARALLEL = env.int("ORDERHUB_WEBHOOK_PARALLEL", default=8)
# Webhook bodies over this are refused (413) before they are read: an order or a tracking
# push is a few kilobytes; a batch push stays far below 1 MiB.
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)
# Tracking sync: at most this many carrier calls per account per run, this many seconds apart.
ORDERHUB_TRACKING_MAX_CALLS = env.int("ORDERHUB_TRACKING_MAX_CALLS", default=30)
ORDERHUB_TRACKING_PAUSE = env.float("ORDERHUB_TRACKING_PAUSE", default=0.5)
