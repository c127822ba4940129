from django.urls import path

from sereno.messaging import views

app_name = "messaging"
urlpatterns = [
    path("<slug:kind>/<uuid:channel_uuid>/", views.hook, name="hook"),
    path("<slug:kind>/<uuid:channel_uuid>/<slug:endpoint>/", views.hook, name="hook-endpoint"),
]
