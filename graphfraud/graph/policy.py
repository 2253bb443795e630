"""Link policy: which entity types link users into clusters, and when an identifier is a hub.

A *linking* type (card, device, ip, email, phone, ...) joins the users who share an identifier of it; a
*context* type (merchant, card BIN, country) is described but never links: sharing a merchant says
nothing about two users. A linking identifier shared by more users than its type's hub limit (a carrier
NAT IP, an office IP, a default device id such as ``00000000``) is a *hub*: it stops linking (so it cannot
glue the graph into one giant component or flood two-hop features) and is counted as a feature instead.

Examples
--------
>>> p = LinkPolicy.from_settings()
>>> p.links("device"), p.links("merchant"), p.hub_limit("ip")
(True, False, 25)
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import settings
from ..errors import ConfigError


@dataclass(frozen=True)
class LinkPolicy:
    """Which types link users (``link_types``) and the hub limit per type (``hub_limits``, ``default``)."""

    link_types: frozenset[str] = frozenset({"card", "device", "ip", "email", "phone"})
    hub_limits: Mapping[str, int] = field(default_factory=lambda: {"default": 20})

    @classmethod
    def from_settings(cls, overrides: Mapping[str, Any] | None = None) -> "LinkPolicy":
        types = frozenset(t.strip() for t in str(settings.get("link_types", overrides)).split(",") if t.strip())
        limits: dict[str, int] = {}
        for k, v in settings.parse_pairs(settings.get("hub_limits", overrides)).items():
            try:
                limits[k] = int(v)
            except ValueError:
                raise ConfigError(f"Hub limit for {k!r} is {v!r}; it must be a whole number.") from None
            if limits[k] < 1:
                raise ConfigError(f"Hub limit for {k!r} must be at least 1.")
        limits.setdefault("default", 20)
        return cls(types, limits)

    def links(self, entity_type: str) -> bool:
        """True when identifiers of this type link the users who share them."""
        return entity_type in self.link_types

    def hub_limit(self, entity_type: str) -> int:
        """Most users an identifier of this type may have before it is a hub."""
        return int(self.hub_limits.get(entity_type, self.hub_limits.get("default", 20)))

    def is_hub(self, entity_type: str, n_users: int) -> bool:
        return n_users > self.hub_limit(entity_type)
