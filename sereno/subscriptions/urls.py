from django.urls import path

from sereno.subscriptions import views

app_name = "subscriptions"
urlpatterns = [
    path("", views.subscribe, name="subscribe"),
    path("codigo/<str:token>/", views.code, name="code"),
    path("correo/<int:pk>/<str:token>/", views.email_confirm, name="email_confirm"),
    path("baja/", views.unsubscribe_help, name="unsubscribe_help"),
    path("baja/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
