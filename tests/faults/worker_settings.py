"""Settings of the Celery worker processes the fault tests start: the test settings, except
that the queues are the ones the test process publishes to (the test settings name it after the
process id, which would give every worker a queue of its own for its retries)."""

import os

from config.settings.test import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = os.environ["ORDERHUB_TASK_QUEUE"]
ORDERHUB_CALLS_QUEUE, CELERY_TASK_QUEUES = task_queues(CELERY_TASK_DEFAULT_QUEUE)  # noqa: F405
