"""Schemathesis hooks for the contract fuzz: how to send a JSON Lines body, which it cannot do by itself.

Loaded by ``schemathesis run`` through ``SCHEMATHESIS_HOOKS=tests.e2e.schemathesis_hooks``.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.serializer("application/x-ndjson", "application/jsonl")
def json_lines(ctx: Any, value: Any) -> bytes:
    """Send a generated string as it is (the spec says the body is text); anything else one JSON per line."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, list):
        return "\n".join(json.dumps(record) for record in value).encode("utf-8")
    return json.dumps(value).encode("utf-8")
