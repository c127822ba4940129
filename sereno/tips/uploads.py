"""Uploads on tip pages: small files stay in memory; larger ones go to a private temporary
folder (mode 700, under the tips storage) instead of the system's, and are overwritten with
zeros before they are removed at the end of the request."""

import os
import tempfile

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import (
    FileUploadHandler,
    MemoryFileUploadHandler,
    StopUpload,
    TemporaryFileUploadHandler,
)

from sereno.tips import conf, crypto


class TipUploadedFile(UploadedFile):
    def __init__(self, name, content_type, size, charset, content_type_extra=None):
        from sereno.tips.services import tmp_dir

        # No suffix from the client's name: nothing of it reaches the disk.
        file = tempfile.NamedTemporaryFile(suffix=".upload", dir=tmp_dir())  # noqa: SIM115
        super().__init__(file, name, content_type, size, charset, content_type_extra)

    def temporary_file_path(self) -> str:
        return self.file.name

    def shred(self) -> None:
        try:
            self.file.seek(0, os.SEEK_END)
            size = self.file.tell()
            self.file.seek(0)
            zeros = b"\0" * crypto.STREAM_CHUNK
            while size > 0:
                size -= self.file.write(zeros[: min(size, len(zeros))])
            self.file.flush()
            os.fsync(self.file.fileno())
        except (OSError, ValueError):
            pass
        finally:
            self.close()

    def close(self):
        try:
            return self.file.close()
        except FileNotFoundError:
            pass


class TipTemporaryUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, *args, **kwargs):
        super(TemporaryFileUploadHandler, self).new_file(*args, **kwargs)
        self.file = TipUploadedFile(
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )


class SizeLimitHandler(FileUploadHandler):
    """First in the chain: stops as soon as one file passes the per-file limit, so a too large
    file is never buffered in full; the view then answers 413 and stores nothing. (The body
    limit middleware has already refused bodies that announce more than the request limit.)"""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > conf.max_file_bytes():
            self.request.tips_upload_too_large = True
            # Read and drop the rest of the body (bounded by the request limit), so that the
            # browser shows our page instead of "connection reset".
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def use_private_uploads(request) -> None:
    """Call before the view reads request.POST or request.FILES."""
    request.upload_handlers = [
        SizeLimitHandler(request),
        MemoryFileUploadHandler(request),
        TipTemporaryUploadHandler(request),
    ]


def too_large(request) -> bool:
    request.POST  # noqa: B018 - parse the body (through the handlers above) first
    return getattr(request, "tips_upload_too_large", False)


def shred_uploads(request) -> None:
    for uploads in getattr(request, "_files", {}).lists():
        for upload in uploads[1]:
            if isinstance(upload, TipUploadedFile):
                upload.shred()
