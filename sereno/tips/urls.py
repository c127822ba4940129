from django.urls import path

from sereno.tips import staff_views, views

app_name = "tips"
urlpatterns = [
    path("", views.channels_view, name="channels"),
    path("receipt/", views.receipt_confirm_view, name="receipt_confirm"),
    path("return/", views.return_view, name="return"),
    path("box/", views.box_view, name="box"),
    path("box/comment/", views.box_comment_view, name="box_comment"),
    path("box/leave/", views.box_leave_view, name="box_leave"),
    path("inbox/", staff_views.inbox_view, name="inbox"),
    path("inbox/unlock/", staff_views.unlock_view, name="unlock"),
    path("inbox/lock/", staff_views.lock_view, name="lock"),
    path("inbox/<uuid:tip_id>/", staff_views.tip_view, name="tip"),
    path("inbox/<uuid:tip_id>/reply/", staff_views.reply_view, name="reply"),
    path("inbox/<uuid:tip_id>/extend/", staff_views.extend_view, name="extend"),
    path(
        "inbox/<uuid:tip_id>/files/<int:file_id>/<str:which>/",
        staff_views.file_view,
        name="file",
    ),
    path("keys/", staff_views.keys_view, name="keys"),
    path("keys/password/", staff_views.password_view, name="password"),
    path("keys/recover/", staff_views.recover_view, name="recover"),
    path("escrow/", staff_views.escrow_view, name="escrow"),
    path("manage/", staff_views.channels_manage_view, name="channels_manage"),
    path("manage/new/", staff_views.channel_edit_view, name="channel_new"),
    path("manage/<int:pk>/", staff_views.channel_edit_view, name="channel_edit"),
    path("<slug:slug>/", views.submit_view, name="submit"),
]
