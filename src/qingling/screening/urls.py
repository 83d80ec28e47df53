from django.urls import path

from qingling.screening import views

urlpatterns = [
    path("", views.runs, name="screening_runs"),
    path("subscribers/", views.subscriber_list, name="subscriber_list"),
    path("subscribers/<int:pk>/", views.subscriber_detail, name="subscriber_detail"),
    path("subscribers/<int:pk>/reveal/", views.subscriber_reveal, name="subscriber_reveal"),
]
