from django.urls import path

from sereno.alerts import public_views as views

app_name = "public_alerts"
urlpatterns = [
    path("", views.alert_list, name="list"),
    path("feed.atom", views.alert_feed, name="feed"),
    path("<uuid:identifier>.xml", views.alert_cap, name="cap"),
    path("<uuid:identifier>/", views.alert_page, name="page"),
]
