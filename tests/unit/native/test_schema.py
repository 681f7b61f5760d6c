"""ccx._native.CompiledSchema: behaviour, hostile inputs, and agreement with the reference."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ccx import _native
from ccx.native_ref import schema as ref

MESSAGE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["to", "type"],
    "additionalProperties": False,
    "properties": {
        "messaging_product": {"const": "whatsapp"},
        "to": {"type": "string", "pattern": r"^\+?[1-9]\d{6,14}$"},
        "type": {"enum": ["text", "template"]},
        "priority": {"type": "integer", "minimum": 0, "maximum": 9},
        "text": {
            "type": "object",
            "required": ["body"],
            "additionalProperties": False,
            "properties": {
                "body": {"type": "string", "minLength": 1, "maxLength": 4096},
                "preview_url": {"type": "boolean"},
            },
        },
        "template": {
            "type": "object",
            "required": ["name", "language"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9_]{1,512}$"},
                "language": {"type": "string", "minLength": 2, "maxLength": 15},
                "variables": {
                    "type": "array",
                    "maxItems": 10,
                    "items": {"type": "string", "maxLength": 1024},
                },
            },
        },
        "metadata": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
        },
    },
    "allOf": [
        {
            "if": {"required": ["type"], "properties": {"type": {"const": "text"}}},
            "then": {"required": ["text"]},
        },
        {
            "if": {"required": ["type"], "properties": {"type": {"const": "template"}}},
            "then": {"required": ["template"]},
        },
    ],
}
SCHEMA_TEXT = json.dumps(MESSAGE_SCHEMA)
VALID = {
    "messaging_product": "whatsapp",
    "to": "+15551234567",
    "type": "template",
    "priority": 3,
    "template": {"name": "order_update", "language": "en_US", "variables": ["Ann", "#42"]},
    "metadata": {"campaign": "spring", "attempt": 1, "vip": True, "note": None},
}


@pytest.fixture(scope="module")
def native() -> _native.CompiledSchema:
    return _native.CompiledSchema(SCHEMA_TEXT)


@pytest.fixture(scope="module")
def reference() -> ref.CompiledSchema:
    return ref.CompiledSchema(SCHEMA_TEXT)


def dump(value: Any) -> bytes:
    return json.dumps(value).encode()


def errors_of(schema: _native.CompiledSchema, data: bytes) -> list[tuple[str, str]]:
    with pytest.raises(_native.ValidationError) as info:
        schema.validate(data)
    errors = info.value.errors
    assert isinstance(errors, list)
    assert all(isinstance(p, str) and isinstance(m, str) for p, m in errors)
    return errors


def same(a: Any, b: Any) -> bool:
    """Equal values of identical types (floats by sign too), dict keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


# ------------------------------------------------------------------ behaviour


def test_valid_document_returns_the_parsed_object(native: _native.CompiledSchema) -> None:
    data = dump(VALID)
    assert same(native.validate(data), VALID)
    assert native.is_valid(data)


def test_every_error_is_reported_with_json_pointer_paths(native: _native.CompiledSchema) -> None:
    doc = {
        "to": "0123",
        "type": "video",
        "priority": 12,
        "template": {"name": "Bad Name", "variables": ["ok", 7]},
        "metadata": {"nested": {"x": 1}},
        "surprise": True,
    }
    errors = errors_of(native, dump(doc))
    assert sorted({path for path, _ in errors}) == [
        "",
        "/metadata/nested",
        "/priority",
        "/template",
        "/template/name",
        "/template/variables/1",
        "/to",
        "/type",
    ]
    assert all(message for _, message in errors)
    assert not native.is_valid(dump(doc))


def test_conditional_requirement(native: _native.CompiledSchema) -> None:
    errors = errors_of(native, dump({"to": "+15551234567", "type": "text"}))
    assert errors == [("", '"text" is a required property')]


def test_exception_message_summarises_the_errors(native: _native.CompiledSchema) -> None:
    with pytest.raises(_native.ValidationError, match=r"^/to: .* \(\+1 more\)$"):
        native.validate(dump({"to": "x", "type": "x"}))
    assert issubclass(_native.ValidationError, _native.NativeError)
    assert issubclass(_native.NativeError, ValueError)


def test_pointer_escaping() -> None:
    schema = _native.CompiledSchema('{"additionalProperties": {"type": "string"}}')
    assert [p for p, _ in errors_of(schema, b'{"a/b~c": 1, "": 2}')] == ["/a~1b~0c", "/"]


def test_schema_accepts_str_or_bytes() -> None:
    assert _native.CompiledSchema(SCHEMA_TEXT.encode()).is_valid(dump(VALID))
    with pytest.raises(TypeError):
        _native.CompiledSchema(MESSAGE_SCHEMA)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ('{"type": "strnig"}', "invalid schema at /type"),
        ('{"properties": {"to": {"minLength": -1}}}', "invalid schema at /properties/to/minLength"),
        ("{", "schema is not valid JSON"),
        ('{"$ref": "https://example.com/message.json"}', "example.com"),
    ],
)
def test_invalid_schema_raises_schema_error(schema: str, reason: str) -> None:
    with pytest.raises(_native.SchemaError, match=reason):
        _native.CompiledSchema(schema)


def test_batch_returns_object_or_errors(native: _native.CompiledSchema) -> None:
    items = [dump(VALID), b"{", dump({"to": "+15551234567"}), b"null"]
    results = native.validate_batch(items)
    assert len(results) == 4
    assert same(results[0][0], VALID)
    assert results[0][1] == []
    assert results[1][0] is None
    assert results[1][1][0][0] == ""
    assert "line 1 column 1" in results[1][1][0][1]
    assert results[2] == (None, [("", '"type" is a required property')])
    assert results[3][0] is None
    assert native.validate_batch([]) == []


def test_batch_accepts_any_sequence(native: _native.CompiledSchema) -> None:
    assert len(native.validate_batch((dump(VALID), dump(VALID)))) == 2
    with pytest.raises(TypeError):
        native.validate_batch([dump(VALID), "not bytes"])  # type: ignore[list-item]


# ------------------------------------------------------------------ hostile inputs

ANYTHING = _native.CompiledSchema("{}")


def parse_error(data: bytes) -> str:
    errors = errors_of(ANYTHING, data)
    assert len(errors) == 1
    assert errors[0][0] == ""
    return errors[0][1]


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deep_nesting_is_an_error_not_a_crash(opener: str) -> None:
    data = (opener * 10_000).encode()
    assert "recursion limit exceeded" in parse_error(data)
    assert ANYTHING.validate_batch([data])[0][0] is None


def test_nesting_limit_matches_the_reference() -> None:
    for depth, ok in [(ref.MAX_DEPTH, True), (ref.MAX_DEPTH + 1, False)]:
        data = ("[" * depth + "]" * depth).encode()
        assert ANYTHING.is_valid(data) is ok
        assert ref.CompiledSchema("{}").is_valid(data) is ok


def test_five_megabyte_document(native: _native.CompiledSchema) -> None:
    metadata = {f"k{i}": "x" * 90 for i in range(50_000)}
    good = dump({**VALID, "metadata": metadata})
    assert len(good) > 5_000_000
    assert native.validate(good)["metadata"]["k49999"] == "x" * 90
    bad = dump({**VALID, "metadata": {k: [v] for k, v in metadata.items()}})
    errors = errors_of(native, bad)
    assert len(errors) == 50_000
    assert errors[0][0] == "/metadata/k0"
    assert all(len(message) <= 1100 for _, message in errors)


def test_huge_values_do_not_make_huge_messages() -> None:
    schema = _native.CompiledSchema('{"type": "integer"}')
    (error,) = errors_of(schema, dump(["x" * 1_000_000]))
    assert len(error[1]) <= 1100


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b'{"to": "\xff\xfe"}', "invalid unicode"),
        (b'{"to": "\xed\xa0\x80"}', "invalid unicode"),
        (b"\xef\xbb\xbf{}", "line 1 column 1"),
        (b'["\\ud800"]', "hex escape"),
        (b'["\\udc00 tail"]', "surrogate"),
        (b"[NaN]", "line 1 column 2"),
        (b"[Infinity]", "line 1 column 2"),
        (b"[-Infinity]", "line 1 column 3"),
        (b"[1e400]", "out of range"),
        (b"", "EOF"),
        (b'{"a": 1,}', "trailing comma"),
        (b"[1] [2]", "trailing characters"),
        (b'{"to": \x00}', "line 1 column 8"),
    ],
)
def test_invalid_json_is_one_error_at_the_root(data: bytes, needle: str) -> None:
    assert needle in parse_error(data)
    with pytest.raises(ref.RefValidationError):
        ref.parse(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": ["\\ud800"], "a": 1}',
        b'{"a": ' + b"[" * 127 + b"]" * 127 + b', "a": 1}',
    ],
)
def test_values_replaced_by_duplicate_keys_are_still_checked(data: bytes) -> None:
    assert not ANYTHING.is_valid(data)
    assert not ref.CompiledSchema("{}").is_valid(data)


def test_surrogate_pairs_are_decoded() -> None:
    assert ANYTHING.validate(b'["\\ud83d\\ude00"]') == ["\U0001f600"]


def test_big_ints_stay_exact() -> None:
    data = b"[123456789012345678901234567890, -18446744073709551617, 18446744073709551615, -0]"
    value = ANYTHING.validate(data)
    assert value == [123456789012345678901234567890, -18446744073709551617, 2**64 - 1, 0]
    assert all(type(v) is int for v in value)
    assert same(ANYTHING.validate(b"[-0.0, 1e300, 1.0]"), [-0.0, 1e300, 1.0])


def test_duplicate_keys_keep_the_last_value() -> None:
    assert same(ANYTHING.validate(b'{"a": 1, "b": 2, "a": 3}'), {"a": 3, "b": 2})


def test_many_distinct_keys_convert_exactly() -> None:
    # more keys than the native key cache holds, of lengths around its per-key limit
    doc = {("k" * (i % 70)) + str(i): i for i in range(5000)}
    data = dump(doc)
    for _ in range(2):
        assert same(ANYTHING.validate(data), json.loads(data))
    assert same(ANYTHING.validate_batch([data, data])[1][0], doc)


def test_pattern_dollar_is_end_of_text(native: _native.CompiledSchema) -> None:
    # ECMA-262 `$` (the Rust regex) does not match before a final newline; Python's re does.
    data = dump({**VALID, "to": "+15551234567\n"})
    assert not native.is_valid(data)
    assert ref.CompiledSchema(SCHEMA_TEXT).is_valid(data)


# ------------------------------------------------------------------ agreement with the reference

NUMBER = st.from_regex(
    r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?", fullmatch=True
)
TEXT = st.text(max_size=20)
WS = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])


def string_token(text: str, ascii_only: bool) -> bytes:
    # surrogatepass lets lone surrogates through as invalid UTF-8 bytes when not escaped
    return json.dumps(text, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


STRING = st.builds(string_token, TEXT, st.booleans())
SCALAR = st.one_of(
    STRING,
    NUMBER.map(str.encode),
    st.sampled_from([b"true", b"false", b"null", b"NaN", b"-Infinity", b"-0", b'"\\ud800"']),
)


def _containers(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    key = st.one_of(st.sampled_from([b'"a"', b'"b"', b'"to"']), STRING)
    array = st.lists(children, max_size=5).map(lambda xs: b"[" + b",".join(xs) + b"]")
    obj = st.lists(st.tuples(key, WS.map(str.encode), children), max_size=5).map(
        lambda kvs: b"{" + b",".join(k + w + b":" + v for k, w, v in kvs) + b"}"
    )
    return st.one_of(array, obj)


JSON_TEXT = st.recursive(SCALAR, _containers, max_leaves=30)


@st.composite
def raw_documents(draw: st.DrawFn) -> bytes:
    data = draw(JSON_TEXT)
    mutation = draw(st.sampled_from(["none", "none", "truncate", "insert"]))
    if mutation == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif mutation == "insert":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=3)) + data[at:]
    return draw(WS).encode() + data + draw(WS).encode()


def outcome(schema: Any, error: type[Exception], data: bytes) -> tuple[bool, Any]:
    try:
        return True, schema.validate(data)
    except error as exc:
        return False, exc.errors  # type: ignore[attr-defined]


AGREE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@AGREE
@given(raw_documents())
def test_parsing_agrees_with_json_loads(data: bytes) -> None:
    native_ok, native_value = outcome(ANYTHING, _native.ValidationError, data)
    ref_ok, ref_value = outcome(ref.CompiledSchema("{}"), ref.RefValidationError, data)
    assert native_ok == ref_ok, (data, native_value, ref_value)
    if native_ok:
        assert same(native_value, ref_value), (data, native_value, ref_value)
    else:
        assert [p for p, _ in native_value] == [""]


PHONE = st.from_regex(r"\+?[1-9][0-9]{6,14}", fullmatch=True)
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(TEXT, c, max_size=3),
    max_leaves=6,
)
# `$` differs before a final newline (see test_pattern_dollar_is_end_of_text)
NO_FINAL_NEWLINE = JUNK.filter(lambda v: not (isinstance(v, str) and v.endswith("\n")))


@st.composite
def valid_messages(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {"to": draw(PHONE), "type": draw(st.sampled_from(["text", "template"]))}
    if doc["type"] == "text":
        doc["text"] = {"body": draw(st.text(min_size=1, max_size=30))}
    else:
        doc["template"] = {
            "name": draw(st.from_regex(r"[a-z0-9_]{1,20}", fullmatch=True)),
            "language": draw(st.sampled_from(["en", "en_US", "pt_BR"])),
        }
        if draw(st.booleans()):
            doc["template"]["variables"] = draw(st.lists(TEXT, max_size=10))
    if draw(st.booleans()):
        doc["priority"] = draw(st.integers(0, 9))
    if draw(st.booleans()):
        scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
        doc["metadata"] = draw(st.dictionaries(TEXT, scalar, max_size=3))
    return doc


@st.composite
def message_documents(draw: st.DrawFn) -> Any:
    """Valid messages with 0-3 mutations (drop a key, junk a value, add a key), or junk."""
    doc = draw(valid_messages())
    for _ in range(draw(st.integers(0, 3))):
        targets = [doc] + [v for v in doc.values() if isinstance(v, dict)]
        target = draw(st.sampled_from(targets))
        keys = sorted(target)
        action = draw(st.sampled_from(["drop", "junk", "add"]))
        if action == "drop" and keys:
            del target[draw(st.sampled_from(keys))]
        elif action == "junk" and keys:
            target[draw(st.sampled_from(keys))] = draw(NO_FINAL_NEWLINE)
        else:
            target[draw(st.sampled_from(["to", "type", "text", "extra", "name"]))] = draw(
                NO_FINAL_NEWLINE
            )
    return draw(st.one_of(st.just(doc), st.just(doc), st.just(doc), NO_FINAL_NEWLINE))


@AGREE
@given(message_documents())
def test_verdicts_and_error_paths_agree_with_python_jsonschema(
    native: _native.CompiledSchema, reference: ref.CompiledSchema, doc: Any
) -> None:
    try:
        data = json.dumps(doc, allow_nan=False).encode()
    except (ValueError, UnicodeEncodeError):
        assume(False)
    native_ok, native_result = outcome(native, _native.ValidationError, data)
    ref_ok, ref_result = outcome(reference, ref.RefValidationError, data)
    assert native_ok == ref_ok, (doc, native_result, ref_result)
    assert native.is_valid(data) == native_ok
    if native_ok:
        assert same(native_result, ref_result)
    else:
        assert {p for p, _ in native_result} == {p for p, _ in ref_result}, doc
    batch = native.validate_batch([data])[0]
    assert batch[1] == ([] if native_ok else native_result)
