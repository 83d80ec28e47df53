from django.contrib.auth import views as auth_views
from django.urls import path

from qingling.accounts import views

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/code/", views.login_otp, name="login_otp"),
    path("account/", views.account_view, name="account"),
    path("account/password/", views.PasswordChange.as_view(), name="password_change"),
    path("account/second-factor/<slug:action>/", views.second_factor, name="second_factor"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/export.xlsx", views.audit_export, name="audit_export"),
]
