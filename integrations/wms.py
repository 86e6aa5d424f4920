from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def wms_events_webhook(request, **kwargs):
    return JsonResponse({"error": "not available yet"}, status=503)
