"""Deduplicates schemathesis findings from its NDJSON report(s): one line per distinct
(check, status, server message) with the operations it occurred on and one curl to
reproduce it. Usage: python st_summary.py REPORT.ndjson... (stdlib only)."""

from __future__ import annotations

import base64
import json
import re
import shlex
import sys
from collections import defaultdict
from typing import Any

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
NUMBER = re.compile(r"-?\d+(\.\d+)?(e[+-]?\d+)?", re.I)
CONTROL = re.compile(r"U\+[0-9A-F]{4}")
QUOTED = re.compile(r"(`[^`]*`|\"[^\"]*\")")
IDENT = re.compile(r"^[a-z_][a-z0-9_.\[\]]*$")


def b64(value: Any) -> bytes:
    if isinstance(value, dict) and "$base64" in value:
        return base64.b64decode(value["$base64"])
    if isinstance(value, str):
        return value.encode()
    return b""


def normal(text: str) -> str:
    text = UUID.sub("<id>", text)
    text = CONTROL.sub("U+<c>", text)
    text = NUMBER.sub("<n>", text)
    return text


def field_name(field: str) -> str:
    field = re.sub(r"\[\d+\]", "[]", field)
    return field if IDENT.match(field) else "<field>"


def server_messages(status: int, body: bytes) -> list[tuple[str, str]]:
    """(message, field) pairs: one per field error of a validation problem, else the detail."""
    try:
        doc = json.loads(body)
    except ValueError:
        return [(body[:120].decode("utf-8", "replace"), "")]
    if not isinstance(doc, dict):
        return [(str(doc)[:120], "")]
    errors = doc.get("errors")
    if isinstance(errors, list) and errors:
        return [
            (normal(QUOTED.sub("<value>", str(e.get("message", "")))), field_name(str(e.get("field", ""))))
            for e in errors
        ]
    detail = str(doc.get("detail", ""))
    # Values the fuzzer drew inside quotes say nothing about the cause.
    return [(normal(QUOTED.sub("<value>", detail)), "")]


def curl(request: dict[str, Any]) -> str:
    parts = ["curl", "-X", request.get("method", "GET")]
    for name, values in (request.get("headers") or {}).items():
        for v in values:
            if name.lower() == "authorization":
                v = "Bearer $TOKEN"
            elif v == "[Filtered]":
                v = "<filtered>"
            parts += ["-H", f"{name}: {v}"]
    body = b64(request.get("body"))
    if body:
        parts += ["-d", body.decode("utf-8", "replace")]
    parts.append(request.get("uri", ""))
    text = " ".join(shlex.quote(p) for p in parts)
    return text if len(text) < 600 else text[:600] + " …"


def main(paths: list[str]) -> int:
    examples: dict[tuple[str, str, str], str] = {}
    ops: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    fields: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                event = json.loads(line)
                done = event.get("ScenarioFinished")
                if not done:
                    continue
                rec = done["recorder"]
                for case_id, checks in (rec.get("checks") or {}).items():
                    for check in checks:
                        if check.get("status") != "failure":
                            continue
                        failure = (check.get("failure_info") or {}).get("failure") or {}
                        inter = (rec.get("interactions") or {}).get(case_id) or {}
                        resp = inter.get("response") or {}
                        status = int(resp.get("status_code") or 0)
                        code = f"{failure.get('code', '?')} {check.get('name')}"
                        message = str(failure.get("message", ""))
                        if failure.get("code") == "ST202" and status:
                            found = server_messages(status, b64(resp.get("content")))
                        else:
                            where = re.search(r"Schema at (\S+)", message)
                            first = normal(QUOTED.sub("<value>", message.split("\n")[0]))
                            found = [(first + (f" (schema {where.group(1)})" if where else ""), "")]
                        op = failure.get("operation") or rec.get("label", "?")
                        for what, field in found:
                            key = (code, str(status), what)
                            ops[key].add(op)
                            if field:
                                fields[key].add(field)
                            examples.setdefault(key, curl(inter.get("request") or {}))
    if not examples:
        print("schemathesis: no findings")
        return 0
    print(f"schemathesis: {len(examples)} distinct findings")
    for key in sorted(examples):
        code, status, what = key
        print(f"\n* {code} -> HTTP {status}: {what}")
        if fields[key]:
            print(f"  fields: {', '.join(sorted(fields[key]))}")
        print(f"  operations ({len(ops[key])}): {', '.join(sorted(ops[key]))}")
        print(f"  e.g. {examples[key]}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
