"""How a request pydantic refused is explained: one line the caller can act on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def describe_validation(errors: Sequence[Any]) -> str:
    """Pydantic's error list as one line a person can act on."""
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "request"
        if error.get("type") in ("model_attributes_type", "dict_type") and where == "request":
            parts.append("the body must be a JSON object (send Content-Type: application/json)")
        elif error.get("type") == "json_invalid":
            parts.append("the body is not valid JSON: " + str(error.get("ctx", {}).get(
                "error", error.get("msg", ""))))
        else:
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
