from django.urls import path

from qingling.cityconfig import views

urlpatterns = [
    path("", views.index, name="config_index"),
    path("cutoff/", views.cutoff, name="config_cutoff"),
    path("cutoff/export.xlsx", views.cutoff_export, name="config_cutoff_export"),
    path("texts/", views.texts, name="config_texts"),
    path("texts/export.xlsx", views.texts_export, name="config_texts_export"),
    path("texts/<slug:key>/", views.text_edit, name="config_text_edit"),
    path("<slug:slug>/", views.table_list, name="config_table"),
    path("<slug:slug>/new/", views.table_edit, name="config_new"),
    path("<slug:slug>/export.xlsx", views.table_export, name="config_export"),
    path("<slug:slug>/<int:pk>/", views.table_edit, name="config_edit"),
]
