from django.urls import path

from sereno.alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.alert_list, name="list"),
    path("new/", views.alert_draft, name="draft"),
    path("<uuid:identifier>/", views.alert_detail, name="detail"),
    path("<uuid:identifier>/edit/", views.alert_edit, name="edit"),
    path("<uuid:identifier>/submit/", views.alert_submit, name="submit"),
    path("<uuid:identifier>/approve/", views.alert_approve, name="approve"),
    path("<uuid:identifier>/reject/", views.alert_reject, name="reject"),
    path("<uuid:identifier>/follow-up/", views.alert_follow_up, name="follow_up"),
    path("<uuid:identifier>/progress/", views.alert_progress, name="progress"),
]
