from django.urls import path

from sereno.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("totp/", views.totp_setup_view, name="totp_setup"),
]
