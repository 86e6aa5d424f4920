from django.urls import URLPattern, path

from .views import api

urlpatterns = [path("v1/", api.urls)]

# django-ninja exempts its views from CSRF. Safe here: every operation authenticates by the
# bearer token alone (never the session cookie a browser would attach by itself), and the
# document and docs pages only read. Marked so the URLconf walk (tests/security) can tell
# these from an unsigned webhook.
for pattern in urlpatterns[0].url_patterns:
    if isinstance(pattern, URLPattern):
        pattern.callback.bearer_token_only = True  # type: ignore[union-attr]
