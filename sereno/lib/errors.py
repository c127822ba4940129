"""Domain errors that every entry point (API, pages, commands) turns into one clear answer."""


class SerenoError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}


class InvalidInput(SerenoError):
    status = 422
    code = "invalid_input"


class NotAllowed(SerenoError):
    status = 403
    code = "forbidden"


class NotFound(SerenoError):
    status = 404
    code = "not_found"


class Conflict(SerenoError):
    status = 409
    code = "conflict"


class Locked(Conflict):
    code = "locked"


class TooMany(SerenoError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int = 60):
        super().__init__(message)
        self.retry_after = retry_after
