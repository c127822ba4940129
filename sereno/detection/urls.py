from django.urls import path

from sereno.detection import views

app_name = "detection"
urlpatterns = [
    path("", views.signal_list, name="signals"),
    path("<int:pk>/dismiss/", views.signal_dismiss, name="dismiss"),
]
