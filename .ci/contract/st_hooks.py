"""Schemathesis hooks for .ci/contract/run.sh (loaded through SCHEMATHESIS_HOOKS=<this file>).

Both act in `before_call`, the one schemathesis 4 hook that runs before every request it sends,
in every phase (examples, coverage, fuzzing, stateful) and for the checks' own re-sends; the
`map_*` hooks run only where a case is generated. Each touches only values the parameter's own
schema admits, so a negative case that aims at the header or the cursor itself keeps its
invalid value and still has to be rejected.
"""

from __future__ import annotations

import atexit
import os
import uuid
from collections import Counter
from typing import Any

import schemathesis

# What the hooks did, written at exit to $CONTRACT_HOOKS_STATS (run.sh prints it: proof that
# schemathesis loaded them).
STATS: Counter[str] = Counter()


@atexit.register
def _write_stats() -> None:
    path = os.environ.get("CONTRACT_HOOKS_STATS")
    if path:
        with open(path, "w") as f:
            f.write(", ".join(f"{k} {v}" for k, v in sorted(STATS.items())) or "no request touched")


def _parameter(case: Any, location: str, name: str) -> Any:
    for parameter in getattr(case.operation, location):
        if parameter.name.lower() == name.lower():
            return parameter
    return None


def _admits(case: Any, parameter: Any, value: Any) -> bool:
    if parameter is None or not isinstance(value, str):
        return False
    return bool(parameter.admits(value, case.operation.schema.adapter.jsonschema_validator_cls))


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    headers = case.headers or {}
    for name in [n for n in headers if n.lower() == "idempotency-key"]:
        parameter = _parameter(case, "headers", name)
        fresh = uuid.uuid4().hex
        # Decision 1: a key names one distinct request; reused keys (other body: 422; create/delete/create: replay) are fuzzer artefacts.
        if _admits(case, parameter, headers[name]) and _admits(case, parameter, fresh):
            headers[name] = fresh
            STATS["Idempotency-Key refreshed"] += 1
        else:
            STATS["Idempotency-Key kept (schema-invalid)"] += 1
    query = case.query or {}
    # Decision 2: cursors are opaque; a made-up one is not one the API issued (its 400 is tested in the Rust suite): first page instead.
    if "cursor" in query and _admits(case, _parameter(case, "query", "cursor"), query["cursor"]):
        del query["cursor"]
        STATS["cursor dropped"] += 1
    elif "cursor" in query:
        STATS["cursor kept (schema-invalid)"] += 1
