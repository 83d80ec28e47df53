from django.urls import path

from qingling.screening import views

urlpatterns = [
    path("", views.runs, name="screening_runs"),
    path("triage/", views.triage, name="lead_triage"),
    path("triage/export.xlsx", views.triage_export, name="lead_triage_export"),
    path("excluded/", views.excluded_list, name="excluded_list"),
    path("excluded/export.xlsx", views.excluded_export, name="excluded_export"),
    path("subscribers/", views.subscriber_list, name="subscriber_list"),
    path("subscribers/export.xlsx", views.subscriber_export, name="subscriber_export"),
    path("export.xlsx", views.runs_export, name="screening_runs_export"),
    path("subscribers/<int:pk>/", views.subscriber_detail, name="subscriber_detail"),
    path("subscribers/<int:pk>/reveal/", views.subscriber_reveal, name="subscriber_reveal"),
]
