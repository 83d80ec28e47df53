from django.urls import path

from qingling.org import views

urlpatterns = [
    path("", views.home, name="home"),
    path("help/", views.manual, name="manual"),
]
