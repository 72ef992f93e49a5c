"""The service's modelled errors, raised by the backend and serialised by moto.

Each `code` names an error shape of botocore's qconnect model, so moto's serialiser takes the
HTTP status (400, 403, 404, 409) from the model rather than from us.
"""

from __future__ import annotations

from moto.core.exceptions import ServiceException


class ValidationException(ServiceException):
    """Input that breaks the model's constraints (400)."""

    code = "ValidationException"


class ResourceNotFoundException(ServiceException):
    """An unknown knowledge base or import job (404)."""

    code = "ResourceNotFoundException"

    def __init__(self, message: str, resource_name: str | None = None) -> None:
        super().__init__(message)
        # Serialised as the shape's `resourceName` member.
        self.resource_name = resource_name


class ConflictException(ServiceException):
    """A request that clashes with the current state (409)."""

    code = "ConflictException"


class ServiceQuotaExceededException(ServiceException):
    """A quota of the account or knowledge base is used up (402)."""

    code = "ServiceQuotaExceededException"
