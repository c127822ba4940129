from django.urls import path

from sereno.crowdmap import views

app_name = "crowdmap"
urlpatterns = [
    path("", views.map_page, name="map"),
    path("report/", views.report_form, name="report_form"),
    path("lang/<str:code>/", views.language, name="language"),
    path("sw.js", views.service_worker, name="service_worker"),
]
