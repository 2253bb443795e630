"""A frozen copy of the engine as it was before the compact layout (commit 0827319), the reference the
compact engine's features are checked against (``tests/test_compact_engine.py``). Not product code: never
import it from ``graphfraud``; never change it to follow the product (the product must follow it).

Bugs fixed in both (so the comparison still holds the product to the rest of the copy): ``flows.py``'s
``Side.window`` counting trimmed amounts in a window that holds every kept entry, and exposure to known
fraud read from a float that kept a rounding residue when a label was taken back (issue #15).
"""
