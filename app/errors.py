"""Service-level errors; the API maps each to one HTTP status with the shared error shape."""
from __future__ import annotations

from werkzeug.exceptions import BadRequest


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class BadRequestError(ServiceError):
    status = 400


class NotFoundError(ServiceError):
    status = 404


class ConflictError(ServiceError):
    status = 409


def invalid(message: str, errors: dict[str, str]) -> BadRequest:
    """A 400 raised where a ServiceError cannot be (request parsing, before any view):
    the API answers it in the shared shape, naming each field."""
    error = BadRequest(message)
    error.data = {"message": message, "errors": errors}  # type: ignore[attr-defined]  # read by app.api
    return error
