from django.urls import path

from qingling.cases import bulkviews, views

urlpatterns = [
    path("dashboard/", views.dashboard_view, name="dashboard"),
    path("dashboard/export.xlsx", views.dashboard_export, name="dashboard_export"),
    path("warning-lists/export.xlsx", views.warning_export, name="warning_export"),
    path("inbox/", views.inbox_view, name="inbox"),
    path("inbox/export.xlsx", views.inbox_export, name="inbox_export"),
    path("cases/bulk/", bulkviews.bulk_view, name="case_bulk"),
    path("search/", bulkviews.search_view, name="search"),
    path("cases/", views.case_list, name="case_list"),
    path("cases/export.xlsx", views.case_export, name="case_export"),
    path("cases/<int:case_id>/", views.case_detail, name="case_detail"),
    path("warning-lists/", views.warning_list_view, name="warning_list"),
    path("warning-lists/<int:pk>/toggle/", views.warning_toggle, name="warning_toggle"),
    path("cases/<int:case_id>/act/<slug:action>/", views.case_act, name="case_act"),
    path("cases/<int:case_id>/visit/", views.case_visit, name="case_visit"),
    path("cases/<int:case_id>/reveal/", views.case_reveal, name="case_reveal"),
    path("cases/<int:case_id>/correct/", views.case_correct_view, name="case_correct"),
    path("cases/<int:case_id>/evidence/", views.case_evidence, name="case_evidence"),
    path("evidence/<int:evidence_id>/", views.evidence_download, name="evidence_download"),
    path("evidence/<int:evidence_id>/thumb/", views.evidence_thumb, name="evidence_thumb"),
]
