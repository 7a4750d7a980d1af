"""Service-level errors; the API maps each to one HTTP status with the shared error shape."""

from __future__ import annotations

from werkzeug.exceptions import BadRequest


class ServiceError(Exception):
    """A refusal a service raises where the cause is known: the API and the dashboard answer it
    with `status` and the shared `{"message", "errors"}` shape (errors maps a field to a reason)."""

    status = 400

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class BadRequestError(ServiceError):
    """Bad input (400): `errors` names each field and why."""

    status = 400


class NotFoundError(ServiceError):
    """No such object (404); the message names the id."""

    status = 404


class ConflictError(ServiceError):
    """The request clashes with what is stored (409), such as a taken name or a config-file object."""

    status = 409


def invalid(message: str, errors: dict[str, str]) -> BadRequest:
    """A 400 raised where a ServiceError cannot be (request parsing, before any view):
    the API answers it in the shared shape, naming each field."""
    error = BadRequest(message)
    error.data = {"message": message, "errors": errors}  # type: ignore[attr-defined]  # read by app.api
    return error
