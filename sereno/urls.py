from django.urls import include, path

from sereno.api.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("sereno.accounts.urls")),
    path("staff/channels/", include("sereno.messaging.staff_urls")),
    path("staff/alerts/", include("sereno.alerts.urls")),
    path("staff/signals/", include("sereno.detection.urls")),
    path("staff/", include("sereno.reports.urls")),
    path("desk/", include("sereno.moderation.urls")),
    path("hooks/", include("sereno.messaging.urls")),
    path("tips/", include("sereno.tips.urls")),
    path("alerts/", include("sereno.alerts.public_urls")),
    path("alertas/", include("sereno.subscriptions.urls")),
    path("", include("sereno.crowdmap.urls")),
    path("", include("sereno.public.urls")),
]
