from django.urls import path

from sereno.moderation import views

app_name = "desk"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("bulk/", views.bulk, name="bulk"),
    path("r/<str:reference>/", views.detail, name="detail"),
    path("r/<str:reference>/transition/", views.transition, name="transition"),
    path("r/<str:reference>/lock/", views.lock, name="lock"),
    path("r/<str:reference>/unlock/", views.unlock, name="unlock"),
    path("r/<str:reference>/edit/", views.edit, name="edit"),
    path("r/<str:reference>/merge/", views.merge, name="merge"),
    path("r/<str:reference>/comment/", views.comment, name="comment"),
    path("r/<str:reference>/reply/", views.reply, name="reply"),
    path("media/<int:media_id>/", views.media, name="media"),
]
