from django.urls import path

from .channels.shopify_webhook import shopify_orders_webhook
from .tracking_views import carrier_push_webhook
from .wms import wms_events_webhook

app_name = "webhooks"
urlpatterns = [
    path("shopify/orders", shopify_orders_webhook, name="shopify_orders"),
    path("wms/events", wms_events_webhook, name="wms_events"),
    path("carriers/<str:carrier>/push", carrier_push_webhook, name="carrier_push"),
]
