"""Domain errors. Each carries a stable ``code`` that clients can branch on; the API maps them to HTTP statuses in
one place (``service/api/errors.py``)."""

from __future__ import annotations


class ModeratoError(Exception):
    """Base of the errors Moderato reports to callers."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidInput(ModeratoError):
    code = "invalid_input"


class TooLarge(ModeratoError):
    code = "too_large"


class NotFound(ModeratoError):
    code = "not_found"


class Conflict(ModeratoError):
    code = "conflict"


class Unavailable(ModeratoError):
    """A dependency (Redis, the model) cannot serve right now; retrying later may work."""

    code = "unavailable"


class Backpressure(ModeratoError):
    """Too much work queued; the caller should retry after ``retry_after_s``."""

    code = "backpressure"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
