"""Reference of `ccx._native.CompiledSchema`: stdlib `json` + python-jsonschema (2020-12).

Parsing follows the same strict rules as the native module: UTF-8 only, no NaN/Infinity, no
lone surrogates, nesting below 128, numbers within float range.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any, final

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError as JsonSchemaError

#: Deepest nesting of arrays/objects accepted (serde_json refuses the 128th level).
MAX_DEPTH = 127

Issue = tuple[str, str]


class RefSchemaError(ValueError):
    """The JSON Schema itself is invalid."""


class RefValidationError(ValueError):
    """The document does not match the schema; `.errors` lists (JSON pointer, message)."""

    def __init__(self, errors: list[Issue]) -> None:
        first = f"{errors[0][0] or '(root)'}: {errors[0][1]}" if errors else "invalid"
        super().__init__(first)
        self.errors = errors


def pointer(parts: Iterable[str | int]) -> str:
    """RFC 6901 JSON pointer of a path ("" is the root)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def _int_in_float_range(text: str) -> int:
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise ValueError("number out of range") from None
    return value


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH, counted on the text: a value replaced by a later
    duplicate key still counts, as it does for serde_json."""
    depth = 0
    for char in _STRING.sub("", text):
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError("recursion limit exceeded")
        elif char in "]}":
            depth -= 1


def _check_str(value: Any) -> None:
    if isinstance(value, str):
        value.encode("utf-8")  # UnicodeEncodeError on a lone surrogate


def _check_strings(root: Any) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
        else:
            _check_str(node)


def _checked_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Sees every pair, also those a later duplicate key replaces.
    for key, value in pairs:
        _check_str(key)
        _check_strings(value)
    return dict(pairs)


def parse(data: bytes) -> Any:
    """Strict JSON from raw bytes; a failure is one error at the root."""
    try:
        text = data.decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=_checked_object,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            parse_int=_int_in_float_range,
        )
        _check_depth(text)
        _check_strings(value)
    except (ValueError, RecursionError) as exc:  # UnicodeError and JSONDecodeError included
        raise RefValidationError([("", f"invalid JSON: {exc}")]) from None
    return value


@final
class CompiledSchema:
    """Same contract as `ccx._native.CompiledSchema`, in pure Python."""

    def __init__(self, schema: str | bytes) -> None:
        try:
            document = json.loads(schema)
            Draft202012Validator.check_schema(document)
        except ValueError as exc:
            raise RefSchemaError(f"schema is not valid JSON: {exc}") from None
        except JsonSchemaError as exc:
            raise RefSchemaError(f"invalid schema at {pointer(exc.path)}: {exc.message}") from None
        self._validator = Draft202012Validator(document)

    def _check(self, data: bytes) -> tuple[Any, list[Issue]]:
        value = parse(data)
        issues = [(pointer(e.absolute_path), e.message) for e in self._validator.iter_errors(value)]
        return value, issues

    def validate(self, data: bytes) -> Any:
        value, issues = self._check(data)
        if issues:
            raise RefValidationError(issues)
        return value

    def is_valid(self, data: bytes) -> bool:
        try:
            return not self._check(data)[1]
        except RefValidationError:
            return False

    def validate_batch(self, items: Sequence[bytes]) -> list[tuple[Any, list[Issue]]]:
        results: list[tuple[Any, list[Issue]]] = []
        for data in items:
            try:
                value, issues = self._check(data)
            except RefValidationError as exc:
                results.append((None, exc.errors))
                continue
            results.append((None, issues) if issues else (value, []))
        return results
