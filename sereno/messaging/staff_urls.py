from django.urls import path

from sereno.messaging import staff_views

app_name = "channels"
urlpatterns = [
    path("", staff_views.channel_list, name="list"),
    path("<int:pk>/", staff_views.channel_edit, name="edit"),
    path("<int:pk>/telegram-webhook/", staff_views.telegram_webhook, name="telegram-webhook"),
]
