from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from orders.views import healthz

admin.site.site_header = admin.site.site_title = "OrderHub 订单中枢"
admin.site.index_title = "OrderHub"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("notifications/", include("notifications.urls")),
    path("finance/", include("finance.urls")),
    path("webhooks/", include("integrations.urls")),
    # The open API for the ERP, the WMS and scripts (docs/api.md): /api/v1/, /api/v1/docs.
    path("api/", include("api.urls")),
    # Before orders' boards/<board>/rows/ so that boards/alerts/rows/ is the alert board's.
    path("boards/alerts/", include("alerts.board_urls")),
    path("kpis/", include("kpis.urls")),
    path("", include("orders.urls")),
    path("admin/", admin.site.urls),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
