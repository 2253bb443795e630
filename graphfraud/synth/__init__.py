"""Synthetic worlds: card transactions with planted fraud and the legitimate sharing that looks like it.

``graphfraud generate --profile NAME`` picks the writer (``graphfraud.cli.PROFILES``):

- ``rings`` (the default, :mod:`.classic`): the world the product's other checks are calibrated on; its
  files are fixed for a seed;
- ``stars``, ``chains``, ``bipartite``, ``sleepers``, ``merchants`` and ``mixed`` (:mod:`.worlds`): one
  ring typology each (``mixed``: all of them) among the same look-alikes, with the label knobs
  ``fraud_rate``, ``label_delay_days`` and ``labelled_share``;
- ``mules`` (:mod:`.mules`): money mules (chains, fan-ins, fan-outs, cycles, scatter-gather, dormant accounts,
  cash-out, device farms, scam collectors) among ordinary transfers, with a ``labels.csv`` of the known mules.

See docs/synth.md for the shapes, the look-alikes and the truth.json contract.
"""
from .base import COLUMNS, DEFAULT_DEVICE_IDS, SHAPES
from .classic import generate, write_dataset
from .mules import MULE_COLUMNS, MULE_SHAPES, generate_mules, write_mules
from .typologies import TYPOLOGY_SHAPES
from .worlds import (PROFILE_SHAPES, generate_world, write_bipartite, write_chains, write_merchants, write_mixed,
                     write_sleepers, write_stars, write_world)

__all__ = ["COLUMNS", "DEFAULT_DEVICE_IDS", "MULE_COLUMNS", "MULE_SHAPES", "PROFILE_SHAPES", "SHAPES",
           "TYPOLOGY_SHAPES", "generate", "generate_mules", "generate_world", "write_bipartite", "write_chains",
           "write_dataset", "write_merchants", "write_mixed", "write_mules", "write_sleepers", "write_stars",
           "write_world"]
