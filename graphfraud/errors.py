"""The one exception hierarchy of graphfraud.

Every error the library raises on purpose is a :class:`GraphFraudError` with a stable ``code`` (a
``snake_case`` string that clients can rely on) and, where several things went wrong at once, a list of
``errors`` each naming a field or row. Subclasses also inherit the matching builtin, so callers can catch
``ValueError`` or ``LookupError`` without knowing this module. HTTP statuses are not decided here: the web
layer maps classes to statuses.
"""
from __future__ import annotations

from collections.abc import Iterable


class GraphFraudError(Exception):
    """Base class: a message for people, a stable ``code`` for programs, and optional detail lines."""

    code = "graphfraud_error"

    def __init__(self, message: str, errors: Iterable[str] | None = None, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.errors = list(errors) if errors is not None else []
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type, tuple[str, list[str]], dict[str, object]]:
        # pickled whole (a forked process hands its error back: memory.run_apart), code and details included
        return type(self), (self.message, self.errors), dict(self.__dict__)


class ValidationError(GraphFraudError, ValueError):
    """Raised when input (a transaction, a label, a mapping, a setting) breaks a rule; ``errors`` names each field."""

    code = "invalid_input"


class ConfigError(GraphFraudError, ValueError):
    """Raised when a configuration file (mapping, rules, settings) cannot be read or makes no sense."""

    code = "invalid_config"


class NotFound(GraphFraudError, LookupError):
    """Raised when a named object (transaction, entity, ring, model, case, user) does not exist."""

    code = "not_found"


class Conflict(GraphFraudError):
    """Raised when a write contradicts what is stored (the same transaction id with different content)."""

    code = "conflict"


class StorageError(GraphFraudError, OSError):
    """Raised when the store cannot be opened, read or written (a corrupt file, a lost server)."""

    code = "storage_error"


class ModelNotReady(GraphFraudError):
    """Raised when a model is needed and none has been trained or promoted yet."""

    code = "model_not_ready"


class ModelIntegrityError(GraphFraudError, ValueError):
    """Raised when a stored model's bytes do not match the SHA-256 recorded when it was saved."""

    code = "model_integrity"


class AuthError(GraphFraudError, PermissionError):
    """Raised when credentials are missing or wrong."""

    code = "unauthorized"


class Forbidden(GraphFraudError, PermissionError):
    """Raised when the caller is known but lacks the role or scope for the action."""

    code = "forbidden"


class RateLimited(GraphFraudError):
    """Raised when a caller exceeds its request rate."""

    code = "rate_limited"
