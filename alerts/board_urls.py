from django.urls import path

from . import board_views

app_name = "alert_board"
urlpatterns = [
    path("", board_views.alert_board, name="board"),
    path("rows/", board_views.alert_board_rows, name="rows"),
    path("<int:pk>/acknowledge/", board_views.alert_acknowledge_view, name="acknowledge"),
    path("<int:pk>/resolve/", board_views.alert_resolve_view, name="resolve"),
]
