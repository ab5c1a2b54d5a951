"""Cross-app API plumbing: the exception handler that keeps every error a clear 4xx, and a
ModelSerializer mixin for hot paths."""

import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    # Services raise Django's ValidationError; the API answers it as a 400 with its messages.
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    return drf_exception_handler(exc, context)


class FieldsBuiltOnce:
    """For a ModelSerializer on a hot path: build its fields from the model once per class
    and hand each instance a copy. DRF rebuilds them on every instance (0.5–1 ms for a
    check's twenty fields), which one POST of a check paid on every request."""

    _fields_built: dict | None = None

    def get_fields(self):
        cls = type(self)
        if cls.__dict__.get("_fields_built") is None:
            cls._fields_built = super().get_fields()
        return copy.deepcopy(cls._fields_built)
