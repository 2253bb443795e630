"""Synthetic worlds: card transactions with planted fraud and the legitimate sharing that looks like it.

``graphfraud generate --profile NAME`` picks the writer; ``rings`` (the default, :mod:`.classic`) is the
world the product's other checks are calibrated on.
"""
from .base import COLUMNS, DEFAULT_DEVICE_IDS, SHAPES
from .classic import generate, write_dataset

__all__ = ["COLUMNS", "DEFAULT_DEVICE_IDS", "SHAPES", "generate", "write_dataset"]
