from django.urls import path

from . import board_views, views

app_name = "orders"
urlpatterns = [
    path("boards/cs/", board_views.cs_board, name="board_cs"),
    path("boards/warehouse/", board_views.warehouse_board, name="board_warehouse"),
    path("boards/ops/", board_views.ops_board, name="board_ops"),
    path("boards/exceptions/", board_views.exception_board, name="board_exceptions"),
    path("boards/exceptions/<int:pk>/clear/", board_views.exception_clear, name="exception_clear"),
    # The live part of each board: 204 while nothing changed, the rows when something did.
    path("boards/<str:board>/rows/", board_views.board_rows_fragment, name="board_rows"),
    path("boards/orders/<str:number>/<str:action>/", board_views.board_transition, name="board_transition"),
    path("orders/<str:number>/", views.order_timeline_page, name="timeline"),
    path("orders/<str:number>/attachments/", views.attachment_add, name="attachment_add"),
    path("orders/<str:number>/attachments/<int:pk>/", views.attachment_download, name="attachment_download"),
]
