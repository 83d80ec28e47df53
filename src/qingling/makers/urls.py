from django.urls import path

from qingling.makers import views

urlpatterns = [
    path("", views.maker_list, name="maker_list"),
    path("export.xlsx", views.maker_list_export, name="maker_list_export"),
    path("<int:maker_id>/", views.maker_detail, name="maker_detail"),
    path("<int:maker_id>/items/", views.maker_item_new, name="maker_item_new"),
    path("items/<int:item_id>/<slug:move>/", views.maker_item_act, name="maker_item_act"),
    path("evidence/<int:evidence_id>/", views.maker_evidence, name="maker_evidence"),
]
