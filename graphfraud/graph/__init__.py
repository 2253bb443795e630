"""The in-memory identifier graph: link policy, the point-in-time engine and whole-graph snapshots."""
from .policy import LinkPolicy

__all__ = ["LinkPolicy"]
