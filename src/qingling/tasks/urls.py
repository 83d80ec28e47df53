from django.urls import path

from qingling.tasks import views

urlpatterns = [
    path("", views.task_inbox_view, name="task_inbox"),
    path("export.xlsx", views.task_export, name="task_export"),
    path("bulk/", views.task_bulk, name="task_bulk"),
    path("kinds/", views.task_kinds, name="task_kinds"),
    path("checks/", views.check_lists, name="check_lists"),
    path("checks/export.xlsx", views.check_lists_export, name="check_lists_export"),
    path("checks/<int:list_id>/", views.check_detail, name="check_detail"),
    path("checks/<int:list_id>/export.xlsx", views.check_detail_export,
         name="check_detail_export"),
    path("<int:task_id>/<slug:move>/", views.task_act, name="task_act"),
    path("case/<int:case_id>/sensitive/", views.case_sensitive, name="case_sensitive"),
]
