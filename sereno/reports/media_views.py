"""Public access to media: only the cleaned derivative, only of a published report."""

from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from sereno.lib.errors import NotFound
from sereno.reports.media import open_cleaned
from sereno.reports.models import Media, Status

_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png"}


@require_safe
def public_media(request, media_id: int):
    media = Media.objects.filter(
        pk=media_id, state=Media.State.CLEAN, report__status=Status.PUBLISHED
    ).first()
    if media is None or media.cleaned_type not in _EXTENSIONS:
        raise Http404(_("File not found."))
    try:
        handle = open_cleaned(media).open("rb")
    except (NotFound, OSError) as error:
        raise Http404(_("File not found.")) from error
    # Never the original name: it may name the reporter or the place.
    filename = f"sereno-{media.pk}{_EXTENSIONS[media.cleaned_type]}"
    response = FileResponse(handle, content_type=media.cleaned_type, filename=filename)
    response["Cache-Control"] = "public, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
