"""The in-memory identifier graph: link policy, the point-in-time engine (built in ``build``, the only writer
of its state: components, hubs, windows, labels), its features, and whole-graph snapshots (read only)."""
from .policy import LinkPolicy

__all__ = ["LinkPolicy"]
