"""Why an answer is not the one a scenario expected, in words short enough for locust to
group failures by (the same reason counts once with its occurrences)."""

from __future__ import annotations

import json
from typing import Any


def problem_title(text: str | None) -> str:
    """The `title` (and `detail`) of an RFC 9457 problem, else the start of the body."""
    if not text:
        return "empty body"
    try:
        document: Any = json.loads(text)
    except ValueError:
        return text[:80]
    if isinstance(document, dict) and "title" in document:
        errors = document.get("errors") or []
        first = f" ({errors[0].get('path')}: {errors[0].get('message')})" if errors else ""
        return f"{document['title']}{first}"[:160]
    return text[:80]


def unexpected(expected: int, status: int, text: str | None, error: object = None) -> str:
    """`expected 202, got 422: Unprocessable Content (/to: …)`; a transport error by name."""
    if not status:
        return f"expected {expected}, got no answer: {type(error).__name__ if error else '?'}"
    return f"expected {expected}, got {status}: {problem_title(text)}"
