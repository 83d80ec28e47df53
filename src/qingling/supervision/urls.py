from django.urls import path

from qingling.supervision import views

urlpatterns = [
    path("", views.supervision_view, name="supervision"),
    path("close/", views.close_week, name="supervision_close"),
    path("escalations/bulk/", views.escalations_bulk, name="escalations_bulk"),
    path("escalations/<int:pk>/<str:move>/", views.escalation_action, name="escalation_action"),
    path("bulletin/<str:week>/issue/", views.bulletin_issue, name="bulletin_issue"),
    path("bulletin/<str:week>/<str:kind>/", views.bulletin_download, name="bulletin_download"),
    path("figures/<str:week>.xlsx", views.figures_export, name="figures_export"),
    path("projects/", views.project_list, name="project_list"),
    path("projects.xlsx", views.project_export, name="project_export"),
    path("tariff/", views.tariff_register, name="tariff_register"),
    path("tariff/account/", views.tariff_account_new, name="tariff_account_new"),
    path("tariff/cycle/", views.tariff_cycle_new, name="tariff_cycle_new"),
    path("tariff/import/", views.tariff_import, name="tariff_import"),
    path("tariff.xlsx", views.tariff_export, name="tariff_export"),
    path("map.geojson", views.map_geojson, name="map_geojson"),
]
