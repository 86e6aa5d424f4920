import os

from .base import *  # noqa: F403
from .base import BASE_DIR

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# One folder per test process when the suite runs in several (pytest-xdist names them gw0, gw1…).
MEDIA_ROOT = BASE_DIR / "var" / "test-media" / os.environ.get("PYTEST_XDIST_WORKER", "main")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LANGUAGE_CODE = "en"
# Static files are not served in tests; whitenoise would only warn about the missing folder.
MIDDLEWARE = [m for m in MIDDLEWARE if m != "whitenoise.middleware.WhiteNoiseMiddleware"]  # noqa: F405

# Each test process gets its own task queue, so two runs sharing one Redis never take each
# other's tasks; without Redis the folder queue lives apart from the dev server's.
CELERY_TASK_DEFAULT_QUEUE = f"orderhub-test-{os.getpid()}"
ORDERHUB_CALLS_QUEUE, CELERY_TASK_QUEUES = task_queues(CELERY_TASK_DEFAULT_QUEUE)  # noqa: F405
if not REDIS_URL:  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS = folder_broker_options(BASE_DIR / "var" / "test-broker")  # noqa: F405
# Retries in tests: fast, few.
ORDERHUB_OUTBOX_MAX_ATTEMPTS = 3
ORDERHUB_OUTBOX_BACKOFF_BASE = 0.05
ORDERHUB_OUTBOX_BACKOFF_CAP = 0.2
# Each test says when the broker is down; none inherits another's pause (one test turns it on).
ORDERHUB_BROKER_PAUSE_SECONDS = 0
# Tests that stub the broker would leave a lane's wake flag set for the next test: off, and
# on in the test of the flags.
ORDERHUB_OUTBOX_COALESCE_WAKES = False
# Tests flush and re-create rules between cases: always read them fresh.
ORDERHUB_RULES_CACHE_SECONDS = 0
ORDERHUB_USUAL_AMOUNT_CACHE_SECONDS = 0
