from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def carrier_push_webhook(request, **kwargs):
    return JsonResponse({"error": "not available yet"}, status=503)
