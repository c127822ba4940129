from django.urls import path

from sereno.public import views
from sereno.reports.media_views import public_media

app_name = "public"
urlpatterns = [
    path("reports/", views.home, name="home"),
    path("r/<str:reference>/", views.report_page, name="report"),
    path("media/<int:media_id>/", public_media, name="media"),
]
