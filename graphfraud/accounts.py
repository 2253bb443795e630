"""Investigator accounts: password hashing for the sign-in page and ``graphfraud user create``.

Passwords are hashed with scrypt (:func:`hashlib.scrypt`, a memory-hard key derivation function) and a
random 16-byte salt; the stored text names its parameters so they can be raised later without breaking
existing hashes: ``scrypt$n$r$p$salt_hex$hash_hex``.

Examples
--------
>>> h = hash_password("correct horse")
>>> verify_password(h, "correct horse"), verify_password(h, "wrong")
(True, False)
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from .errors import ValidationError

__all__ = ["ROLES", "hash_password", "verify_password", "check_role", "MIN_PASSWORD_LENGTH"]

ROLES = ("analyst", "admin")
MIN_PASSWORD_LENGTH = 8
_N, _R, _P = 2**14, 8, 1  # about 16 MiB and ~50 ms per hash: slow for guessing, fine for a sign-in


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * 1024 * 1024, dklen=32)


def hash_password(password: str) -> str:
    """Hash ``password`` for storage; refuses passwords shorter than :data:`MIN_PASSWORD_LENGTH`."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"The password is too short; use at least {MIN_PASSWORD_LENGTH} characters.",
                              [f"password: shorter than {MIN_PASSWORD_LENGTH} characters"], code="weak_password")
    salt = secrets.token_bytes(16)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${_derive(password, salt, _N, _R, _P).hex()}"


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash (constant-time comparison; ``False`` on junk)."""
    try:
        kind, n, r, p, salt, digest = str(stored).split("$")
        if kind != "scrypt":
            return False
        got = _derive(password, bytes.fromhex(salt), int(n), int(r), int(p))
        return hmac.compare_digest(got, bytes.fromhex(digest))
    except (ValueError, TypeError):
        return False


def check_role(role: str) -> str:
    """Return ``role`` when it is one of :data:`ROLES`, else raise :class:`ValidationError`."""
    if role not in ROLES:
        raise ValidationError(f"Role {role!r} is not one of {', '.join(ROLES)}.", [f"role: {role!r}"],
                              code="invalid_role")
    return role
