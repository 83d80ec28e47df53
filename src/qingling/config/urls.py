from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("qingling.org.urls")),
    path("", include("qingling.accounts.urls")),
    path("", include("qingling.cases.urls")),
    path("lists/", include("qingling.intake.urls")),
    path("supervision/", include("qingling.supervision.urls")),
    path("screening/", include("qingling.screening.urls")),
    path("jobs/", include("qingling.jobs.urls")),
    path("tasks/", include("qingling.tasks.urls")),
    path("makers/", include("qingling.makers.urls")),
    path("config/", include("qingling.cityconfig.urls")),
]
