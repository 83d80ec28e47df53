from django.urls import path

from qingling.intake import views

urlpatterns = [
    path("", views.batch_list, name="batch_list"),
    path("export.xlsx", views.batch_list_export, name="batch_list_export"),
    path("import/", views.batch_import, name="batch_import"),
    path("import/<int:job_id>/confirm/", views.batch_import_confirm,
         name="batch_import_confirm"),
    path("<int:batch_id>/", views.batch_detail, name="batch_detail"),
    path("<int:batch_id>/rejected.xlsx", views.batch_rejected_export, name="batch_rejected_export"),
]
