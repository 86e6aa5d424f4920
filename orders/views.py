from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import broker_health, database_health


@never_cache
@require_GET
def healthz(request):
    db_ok, db_state = database_health()
    broker_ok, broker_state = broker_health()
    healthy = db_ok and broker_ok
    return JsonResponse(
        {"status": "ok" if healthy else "unhealthy", "database": db_state, "broker": broker_state},
        status=200 if healthy else 503,
    )


# The order timeline page and its attachments (to be written).
def order_timeline_page(request, number: str):
    raise NotImplementedError


def attachment_add(request, number: str):
    raise NotImplementedError


def attachment_download(request, number: str, pk: int):
    raise NotImplementedError
