"""API fuzzing: schemathesis generates valid and invalid requests for every operation of ``/openapi.json``.

Bounded for CI (``FUZZ_MAX_EXAMPLES`` per operation and mode, default 30). Every response must be a non-5xx
answer documented for its operation, with a body matching the documented schema. The totals (requests
sent, invalid inputs among them) are written to ``test-artifacts/fuzz_api.json`` for docs/reliability.md.

Reproduce: ``.venv/bin/python -m pytest tests/reliability/test_fuzz_api.py -q``
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config._checks import NegativeDataRejectionConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from graphfraud.storage import open_store
from loaders import load_file
from webui import create_app
from webui.auth import create_api_key

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))
_DIR = tempfile.mkdtemp(prefix="graphfraud-fuzz-")
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)


def _seeded_store() -> str:
    """A small store with transactions, so reads can hit existing ids as well as missing ones."""
    path = os.path.join(_DIR, "fuzz.db")
    csv = os.path.join(_DIR, "seed.csv")
    with open(csv, "w") as f:
        f.write("transaction_id,timestamp,user_id,amount,card_id,device_id,ip,counterparty_id\n")
        for i in range(60):  # every fourth a transfer to the next user
            f.write(f"S{i},2026-01-0{1 + i % 9}T10:00:00Z,U{i % 12},{5 + i},C{i % 7},D{i % 9},10.0.0.{i % 20},"
                    f"{'U' + str((i + 1) % 12) if i % 4 == 0 else ''}\n")
    st = open_store(path)
    load_file(csv, st, progress=False, rejects_path=os.path.join(_DIR, "r.csv"))
    st.close()
    return path


APP = create_app({"STORE": _seeded_store(), "SCORER_EAGER": True, "TESTING": True, "RATE_LIMIT": 0})
KEY = create_api_key(APP.extensions["graphfraud"].store, "fuzz", "admin")
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                max_examples=MAX_EXAMPLES)
# 413 (too many items, too large) is a correct refusal of invalid input too
schema.config.checks.negative_data_rejection = NegativeDataRejectionConfig(
    expected_statuses=["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"])

SENT: Counter[str] = Counter()
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]


def _record() -> None:
    out = Path(__file__).resolve().parents[2] / "test-artifacts"
    if SENT and out.is_dir():
        (out / "fuzz_api.json").write_text(json.dumps({"requests": sum(SENT.values()), **SENT,
                                                        "max_examples": MAX_EXAMPLES}, indent=1, sort_keys=True))


atexit.register(_record)


@schema.parametrize()
@settings(deadline=None, max_examples=MAX_EXAMPLES, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_and_never_fails(case) -> None:
    mode = case.meta.generation.mode if case.meta is not None else GenerationMode.POSITIVE
    SENT[mode.value] += 1
    # a batch answers 200 with one verdict per item (bad items refused inside it), so "invalid input must get
    # a 4xx" does not apply to it as a whole; its items are the single-score rules, fuzzed on POST /score
    checks = CHECKS[:-1] if case.path == "/api/v1/score/batch" else CHECKS
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, checks=checks)
