from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def shopify_orders_webhook(request, **kwargs):
    return JsonResponse({"error": "not available yet"}, status=503)
