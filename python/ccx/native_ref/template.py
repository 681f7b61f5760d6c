"""Pure-Python reference of `ccx._native.CompiledTemplate` (string-based, regex placeholders).

Same API, same rules and the same (path, message) errors as the Rust module; the oracle of the
property tests and the baseline of `ccx bench native`. Never used at runtime.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson

# Limits: the same values, sources and caveats as native/src/template/limits.rs.
HEADER_PARAM_MAX: Final = 60
BODY_RENDERED_MAX: Final = 1024
URL_SUFFIX_MAX: Final = 2000
QUICK_REPLY_PAYLOAD_MAX: Final = 128  # UNCONFIRMED
COUPON_CODE_MAX: Final = 15  # UNCONFIRMED
OTP_CODE_MAX: Final = 15  # UNCONFIRMED
PARAM_NAME_MAX: Final = 20
BUTTONS_MAX: Final = 10
MAX_CONSECUTIVE_SPACES: Final = 4
#: serde_json's nesting limit: JSON nested deeper is invalid for the native module.
JSON_MAX_DEPTH: Final = 127

MISSING: Final = "missing variable"
EXTRA: Final = "unexpected variable"
UNEXPECTED_KEY: Final = "unexpected key"
REQUIRED: Final = "is required"
BAD_KEYS: Final = "keys must be valid unicode strings"
UNICODE: Final = "must be valid unicode (no lone surrogates)"
EMPTY: Final = "must not be empty or whitespace-only"
NEWLINE: Final = "must not contain newline or tab characters"
SPACES: Final = "must not contain more than 4 consecutive spaces"
EXPECTED_STRING: Final = "expected a string"
EXPECTED_LIST: Final = "expected a list"
EXPECTED_OBJECT: Final = "expected an object"
EXPECTED_BODY_VALUE: Final = "expected a string or a currency/date_time object"
TYPED_TYPE: Final = "must be 'currency' or 'date_time'"
CURRENCY_CODE: Final = "must be a 3-letter ISO 4217 currency code"
AMOUNT: Final = "must be a 64-bit integer"
LINK: Final = "must be an http(s) URL"
LINK_OR_ID: Final = "link or id is required"
NOT_BOTH: Final = "give either link or id, not both"

#: Unicode White_Space (what Rust's `char::is_whitespace` tests), not Python's `str.isspace`.
WHITESPACE: Final = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_POSITIONAL = re.compile(r"[1-9][0-9]*")
_NAMED = re.compile(r"[a-z][a-z0-9_]*")
_CURRENCY = re.compile(r"[A-Z]{3}")
_NEWLINE_OR_TAB = re.compile(r"[\n\r\t]")
_SPACES = " " * (MAX_CONSECUTIVE_SPACES + 1)
_I64: Final = 2**63
_MEDIA = ("image", "video", "document", "location")

Errors = list[tuple[str, str]]
_Param = tuple[dict[str, Any], str]  # (Meta parameter, text shown in the preview)
_INVALID = object()  # a str that is not valid Unicode (lone surrogates)


class RefTemplateError(ValueError):
    """A template definition is invalid."""


class RefHydrationError(ValueError):
    """Variables do not fit the template; `.errors` lists (path, message)."""

    def __init__(self, errors: Errors) -> None:
        super().__init__(f"variables do not fit the template: {errors[:5]}")
        self.errors = errors


# ---------------------------------------------------------------- definition


class _Section:
    """Literal strings and parameter indexes; `params` in parameter order."""

    def __init__(self, segs: list[str | int], params: list[str]) -> None:
        self.segs = segs
        self.params = params

    def substitute(self, shown: Sequence[str]) -> str:
        return "".join(s if isinstance(s, str) else shown[s] for s in self.segs)


_Item = tuple[str, str]  # ("lit", text) | ("pos", digits) | ("named", name)


def _scan(text: str, at: str) -> list[_Item]:
    items: list[_Item] = []
    end = 0
    for m in _PLACEHOLDER.finditer(text):
        if m.start() > end:
            items.append(("lit", text[end : m.start()]))
        items.append(_classify(m.group(1), at))
        end = m.end()
    tail = text[end:]
    if "{{" in tail:
        raise RefTemplateError(f"{at}: unclosed placeholder '{{{{'")
    if tail:
        items.append(("lit", tail))
    return items


def _classify(inner: str, at: str) -> _Item:
    if _POSITIONAL.fullmatch(inner):
        return ("pos", inner)
    if _NAMED.fullmatch(inner):
        if len(inner) > PARAM_NAME_MAX:
            raise RefTemplateError(
                f"{at}: placeholder name longer than {PARAM_NAME_MAX} characters"
            )
        return ("named", inner)
    raise RefTemplateError(
        f"{at}: invalid placeholder (use {{{{1}}}}..{{{{n}}}} or {{{{lowercase_name}}}})"
    )


def _distinct(items: list[_Item]) -> list[str]:
    return list(dict.fromkeys(v for k, v in items if k != "lit"))


def _build_section(items: list[_Item], fmt: str, at: str) -> _Section:
    params = _distinct(items)
    if fmt == "POSITIONAL":
        n = len(params)
        missing = [k for k in range(1, n + 1) if str(k) not in params]
        if missing:
            raise RefTemplateError(
                f"{at}: positional placeholders must run {{{{1}}}}..{{{{{n}}}}} without gaps"
                f" ({{{{{missing[0]}}}}} is missing)"
            )
        params = [str(k) for k in range(1, n + 1)]
    index = {p: i for i, p in enumerate(params)}
    segs: list[str | int] = [v if k == "lit" else index[v] for k, v in items]
    return _Section(segs, params)


def _upper(value: object) -> str:
    """ASCII-only upper case, as Rust's `to_ascii_uppercase`; non-strings give ""."""
    if not isinstance(value, str):
        return ""
    return value.upper() if value.isascii() else value


def _non_empty_str(obj: dict[str, Any], key: str, at: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise RefTemplateError(f"{at}'{key}' must be a non-empty string")
    return value


def _opt_str(obj: dict[str, Any], key: str) -> str:
    if key not in obj:
        return ""
    value = obj[key]
    if not isinstance(value, str):
        raise RefTemplateError(f"'{key}' must be a string")
    return value


def _parse_header(obj: dict[str, Any]) -> tuple[str, Any]:
    fmt = _upper(obj["format"]) if "format" in obj else "TEXT"
    if fmt not in ("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"):
        raise RefTemplateError(
            "HEADER.format must be one of TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION"
        )
    if fmt != "TEXT":
        return ("header_media", fmt.lower())
    items = _scan(_non_empty_str(obj, "text", "HEADER."), "HEADER")
    if len(_distinct(items)) > 1:
        raise RefTemplateError("HEADER: at most one placeholder is allowed")
    return ("header_text", items)


def _parse_url_button(i: int, obj: dict[str, Any]) -> str:
    at = f"BUTTONS[{i}].url"
    items = _scan(_non_empty_str(obj, "url", f"BUTTONS[{i}]."), at)
    phs = sum(1 for k, _ in items if k != "lit")
    if phs == 0:
        return "url_static"
    if phs == 1 and items[-1] == ("pos", "1"):
        return "url"
    raise RefTemplateError(f"{at}: only a single {{{{1}}}} at the end of the URL is allowed")


def _parse_button(i: int, value: object) -> str:
    if not isinstance(value, dict):
        raise RefTemplateError(f"BUTTONS[{i}] must be an object")
    kind = _upper(value.get("type"))
    if kind in ("QUICK_REPLY", "PHONE_NUMBER", "COPY_CODE"):
        return kind.lower()
    if kind == "OTP":
        if _upper(value.get("otp_type")) not in ("COPY_CODE", "ONE_TAP", "ZERO_TAP"):
            raise RefTemplateError(
                f"BUTTONS[{i}].otp_type must be one of COPY_CODE, ONE_TAP, ZERO_TAP"
            )
        return "otp"
    if kind == "URL":
        return _parse_url_button(i, value)
    raise RefTemplateError(
        f"BUTTONS[{i}].type must be one of QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP"
    )


def _parse_buttons(obj: dict[str, Any]) -> list[str]:
    buttons = obj.get("buttons")
    if not isinstance(buttons, list) or not buttons:
        raise RefTemplateError("BUTTONS.buttons must be a non-empty list")
    if len(buttons) > BUTTONS_MAX:
        raise RefTemplateError(f"BUTTONS: at most {BUTTONS_MAX} buttons are allowed")
    return [_parse_button(i, b) for i, b in enumerate(buttons)]


def _parse_footer(obj: dict[str, Any]) -> str:
    text = obj.get("text")
    if not isinstance(text, str):
        raise RefTemplateError("FOOTER.'text' must be a string")
    if any(k != "lit" for k, _ in _scan(text, "FOOTER")):
        raise RefTemplateError("FOOTER: placeholders are not allowed")
    return text


def _parse_component(i: int, value: object) -> tuple[str, str, Any]:
    if not isinstance(value, dict):
        raise RefTemplateError(f"components[{i}] must be an object")
    kind = _upper(value.get("type"))
    if kind == "HEADER":
        return ("HEADER", *_parse_header(value))
    if kind == "BODY":
        return ("BODY", "body", _scan(_non_empty_str(value, "text", "BODY."), "BODY"))
    if kind == "FOOTER":
        return ("FOOTER", "footer", _parse_footer(value))
    if kind == "BUTTONS":
        return ("BUTTONS", "buttons", _parse_buttons(value))
    raise RefTemplateError(f"components[{i}].type must be one of HEADER, BODY, FOOTER, BUTTONS")


def _decide_format(declared: str | None, texts: list[list[_Item]]) -> str:
    kinds = {k for items in texts for k, _ in items if k != "lit"}
    if kinds == {"pos", "named"}:
        raise RefTemplateError("the template mixes named and positional placeholders")
    used = {"pos": "POSITIONAL", "named": "NAMED"}[kinds.pop()] if kinds else None
    if declared and used and declared != used:
        raise RefTemplateError(f"parameter_format is {declared} but the placeholders are {used}")
    return declared or used or "POSITIONAL"


def _load_definition(definition: str | bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(definition)
    except orjson.JSONDecodeError as e:
        raise RefTemplateError(f"invalid JSON: {e}") from None
    if _depth(value) > JSON_MAX_DEPTH:
        raise RefTemplateError("invalid JSON: recursion limit exceeded")
    if not isinstance(value, dict):
        raise RefTemplateError("the definition must be a JSON object")
    return value


def _declared_format(obj: dict[str, Any]) -> str | None:
    if "parameter_format" not in obj:
        return None
    fmt = _upper(obj["parameter_format"])
    if fmt not in ("POSITIONAL", "NAMED"):
        raise RefTemplateError("'parameter_format' must be POSITIONAL or NAMED")
    return fmt


def _depth(value: object) -> int:
    """Nesting depth of containers (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, list):
            deepest = max(deepest, d + 1)
            stack.extend((x, d + 1) for x in v)
    return deepest


# ---------------------------------------------------------------- variables


def _kind(v: object) -> str:
    if isinstance(v, str):
        return "str"
    if v is None:
        return "null"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list | tuple):
        return "list"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "other"


def _text(v: object) -> object:
    """The string, `_INVALID` for a string with lone surrogates, None for a non-string."""
    if not isinstance(v, str):
        return None
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return _INVALID
    return v


def _int(v: object) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v if -_I64 <= v < _I64 else None
    if isinstance(v, float) and v.is_integer() and -(2.0**63) <= v < 2.0**63:
        return int(v)
    return None


def _num(v: object) -> int | float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v if -_I64 <= v < _I64 else None
    if isinstance(v, float):
        return v
    return None


def _get(obj: object, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _ptr(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}/{key}"
    return path + "/" + key.replace("~", "~0").replace("/", "~1")


def _valid_key(k: object) -> str | None:
    t = _text(k)
    return t if isinstance(t, str) else None


class _Hydrator:
    """One hydration: collects errors while building the components."""

    def __init__(self, named: bool) -> None:
        self.errors: Errors = []
        self.named = named

    def err(self, path: str, msg: str) -> None:
        self.errors.append((path, msg))

    def extra_keys(
        self, path: str, obj: dict[Any, Any], known: Callable[[str], bool], msg: str
    ) -> None:
        for k in obj:
            key = _valid_key(k)
            if key is None:
                self.err(path, BAD_KEYS)
            elif not known(key):
                self.err(_ptr(path, key), msg)

    def only_keys(self, path: str, obj: dict[Any, Any], allowed: tuple[str, ...]) -> None:
        self.extra_keys(path, obj, allowed.__contains__, UNEXPECTED_KEY)

    def check_text(self, path: str, s: str, param_rule: bool, limit: int) -> bool:
        if all(c in WHITESPACE for c in s):
            self.err(path, EMPTY)
            return False
        ok = True
        if param_rule:
            if _NEWLINE_OR_TAB.search(s):
                self.err(path, NEWLINE)
                ok = False
            if _SPACES in s:
                self.err(path, SPACES)
                ok = False
        if limit and len(s) > limit:
            self.err(path, f"must be at most {limit} characters")
            ok = False
        return ok

    def text_value(self, path: str, v: object, param_rule: bool, limit: int) -> str | None:
        t = _text(v)
        if t is None:
            self.err(path, EXPECTED_STRING)
            return None
        if not isinstance(t, str):
            self.err(path, UNICODE)
            return None
        return t if self.check_text(path, t, param_rule, limit) else None

    def text_field(self, path: str, obj: object, key: str, param_rule: bool) -> str | None:
        v = _get(obj, key)
        if v is None:
            self.err(_ptr(path, key), REQUIRED)
            return None
        return self.text_value(_ptr(path, key), v, param_rule, 0)

    def loose_field(self, path: str, obj: object, key: str) -> str | None:
        v = _get(obj, key)
        if v is None:
            return None
        t = _text(v)
        if isinstance(t, str):
            return t
        self.err(_ptr(path, key), EXPECTED_STRING if t is None else UNICODE)
        return None

    # -------------------------------------------------------- typed and media params

    def currency(self, path: str, v: dict[Any, Any], fallback: str | None) -> dict[str, Any] | None:
        code = _get(v, "code")
        if code is None:
            self.err(_ptr(path, "code"), REQUIRED)
        elif not (isinstance(t := _text(code), str) and _CURRENCY.fullmatch(t)):
            self.err(_ptr(path, "code"), CURRENCY_CODE)
            code = None
        raw = _get(v, "amount_1000")
        amount = None if raw is None else _int(raw)
        if raw is None:
            self.err(_ptr(path, "amount_1000"), REQUIRED)
        elif amount is None:
            self.err(_ptr(path, "amount_1000"), AMOUNT)
        self.only_keys(path, v, ("type", "fallback_value", "code", "amount_1000"))
        if fallback is None or code is None or amount is None:
            return None
        return {"fallback_value": fallback, "code": code, "amount_1000": amount}

    def typed_param(self, path: str, v: dict[Any, Any], name: str | None) -> _Param | None:
        kind = _get(v, "type")
        if kind is None:
            self.err(_ptr(path, "type"), REQUIRED)
            return None
        if kind not in ("currency", "date_time") or not isinstance(kind, str):
            self.err(_ptr(path, "type"), TYPED_TYPE)
            return None
        before = len(self.errors)
        fallback = self.text_field(path, v, "fallback_value", True)
        inner: dict[str, Any] | None
        if kind == "currency":
            inner = self.currency(path, v, fallback)
        else:
            self.only_keys(path, v, ("type", "fallback_value"))
            inner = None if fallback is None else {"fallback_value": fallback}
        if inner is None or len(self.errors) != before:
            return None
        return _param(kind, name, inner, inner["fallback_value"])

    def text_param(self, path: str, v: object, header: bool, name: str | None) -> _Param | None:
        kind = _kind(v)
        if kind == "null":
            self.err(path, MISSING)
        elif kind == "str":
            limit = HEADER_PARAM_MAX if header else 0
            text = self.text_value(path, v, True, limit)
            if text is not None:
                return _param("text", name, text, text)
        elif isinstance(v, dict) and not header:
            return self.typed_param(path, v, name)
        else:
            self.err(path, EXPECTED_STRING if header else EXPECTED_BODY_VALUE)
        return None

    def coordinate(self, path: str, v: object, key: str, limit: float) -> int | float | None:
        raw = _get(v, key)
        if raw is None:
            self.err(_ptr(path, key), REQUIRED)
            return None
        n = _num(raw)
        if n is None or not -limit <= n <= limit:
            self.err(_ptr(path, key), f"must be a number between -{limit} and {limit}")
            return None
        return n

    def location(self, path: str, v: dict[Any, Any]) -> dict[str, Any] | None:
        lat = self.coordinate(path, v, "latitude", 90)
        lon = self.coordinate(path, v, "longitude", 180)
        name = self.loose_field(path, v, "name")
        address = self.loose_field(path, v, "address")
        self.only_keys(path, v, ("type", "latitude", "longitude", "name", "address"))
        if lat is None or lon is None:
            return None
        loc: dict[str, Any] = {"latitude": lat, "longitude": lon}
        if name is not None:
            loc["name"] = name
        if address is not None:
            loc["address"] = address
        return {"type": "location", "location": loc}

    def media_source(self, path: str, v: dict[Any, Any]) -> dict[str, str]:
        link, media_id = _get(v, "link"), _get(v, "id")
        if link is None and media_id is None:
            self.err(path, LINK_OR_ID)
        elif link is not None and media_id is not None:
            self.err(path, NOT_BOTH)
        elif link is not None:
            text = self.text_value(_ptr(path, "link"), link, False, 0)
            if text is not None:
                if text.startswith(("https://", "http://")):
                    return {"link": text}
                self.err(_ptr(path, "link"), LINK)
        else:
            text = self.text_value(_ptr(path, "id"), media_id, False, 0)
            if text is not None:
                return {"id": text}
        return {}

    def media(self, path: str, v: object, kind: str) -> dict[str, Any] | None:
        k = _kind(v)
        if k != "object":
            self.err(path, MISSING if k == "null" else EXPECTED_OBJECT)
            return None
        assert isinstance(v, dict)
        t = _get(v, "type")
        if t is None or not (isinstance(t, str) and t == kind):
            self.err(_ptr(path, "type"), REQUIRED if t is None else f"must be '{kind}'")
            return None
        before = len(self.errors)
        if kind == "location":
            param = self.location(path, v)
        else:
            inner: dict[str, Any] = self.media_source(path, v)
            allowed: tuple[str, ...] = ("type", "link", "id")
            if kind == "document":
                allowed = (*allowed, "filename")
                raw = _get(v, "filename")
                fname = (
                    None if raw is None else self.text_value(_ptr(path, "filename"), raw, False, 0)
                )
                if fname is not None:
                    inner["filename"] = fname
            self.only_keys(path, v, allowed)
            param = {"type": kind, kind: inner}
        return param if len(self.errors) == before else None

    # -------------------------------------------------------- sections

    def section(
        self, path: str, sec: _Section, value: object, header: bool
    ) -> tuple[list[dict[str, Any]], list[str]] | None:
        """(Meta parameters, shown texts) or None if this section has errors."""
        before = len(self.errors)
        out: list[_Param] = []
        n, named, kind = len(sec.params), self.named, _kind(value)
        if value is None:
            for i, name in enumerate(sec.params):
                self.err(_ptr(path, name if named else i), MISSING)
        elif kind == "list" and (not named or n == 0):
            assert isinstance(value, list | tuple)
            for i in range(max(n, len(value))):
                p = _ptr(path, i)
                if i >= len(value):
                    self.err(p, MISSING)
                elif i >= n:
                    self.err(p, EXTRA)
                elif (param := self.text_param(p, value[i], header, None)) is not None:
                    out.append(param)
        elif kind == "object" and (named or n == 0):
            assert isinstance(value, dict)
            for name in sec.params:
                item = _get(value, name)
                if item is None:
                    self.err(_ptr(path, name), MISSING)
                elif (param := self.text_param(_ptr(path, name), item, header, name)) is not None:
                    out.append(param)
            self.extra_keys(path, value, sec.params.__contains__, EXTRA)
        else:
            self.err(path, EXPECTED_OBJECT if named else EXPECTED_LIST)
        if len(self.errors) != before:
            return None
        return [p for p, _ in out], [s for _, s in out]

    def media_header(self, value: object, kind: str) -> dict[str, Any] | None:
        if value is None:
            self.err("/header", MISSING)
            return None
        if _kind(value) == "list":
            assert isinstance(value, list | tuple)
            for i in range(1, len(value)):
                self.err(f"/header/{i}", EXTRA)
            if not value:
                self.err("/header/0", MISSING)
                return None
            return self.media("/header/0", value[0], kind)
        return self.media("/header", value, kind)

    def buttons(self, kinds: list[str], value: object) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if value is not None and _kind(value) != "list":
            self.err("/buttons", EXPECTED_LIST)
            return out
        items: Sequence[object] = value or ()  # type: ignore[assignment]
        for i in range(max(len(items), len(kinds))):
            p = f"/buttons/{i}"
            item = items[i] if i < len(items) else None
            if i >= len(kinds):
                self.err(p, EXTRA)
                continue
            spec = _BUTTONS.get(kinds[i])
            if spec is None:
                if item is not None:
                    self.err(p, EXTRA)
            elif item is None:
                if kinds[i] != "quick_reply":
                    self.err(p, MISSING)
            elif (text := self.text_value(p, item, False, spec[0])) is not None:
                sub_type, param_type = spec[1], spec[2]
                out.append(
                    {
                        "type": "button",
                        "sub_type": sub_type,
                        "index": str(i),
                        "parameters": [{"type": param_type, param_type: text}],
                    }
                )
        return out


#: button kind -> (length limit, Meta sub_type, parameter type); others take no value.
_BUTTONS: Final = {
    "quick_reply": (QUICK_REPLY_PAYLOAD_MAX, "quick_reply", "payload"),
    "url": (URL_SUFFIX_MAX, "url", "text"),
    "copy_code": (COUPON_CODE_MAX, "copy_code", "coupon_code"),
    "otp": (OTP_CODE_MAX, "url", "text"),
}


def _param(kind: str, name: str | None, inner: Any, shown: str) -> _Param:
    p: dict[str, Any] = {"type": kind}
    if name is not None:
        p["parameter_name"] = name
    p[kind] = inner
    return p, shown


# ---------------------------------------------------------------- the compiled template


class CompiledTemplate:
    """A template definition compiled once (see `ccx._native.CompiledTemplate`)."""

    def __init__(self, definition: str | bytes) -> None:
        obj = _load_definition(definition)
        self.name = _non_empty_str(obj, "name", "")
        self.language = _non_empty_str(obj, "language", "")
        self.category = _opt_str(obj, "category")
        _opt_str(obj, "status")
        declared = _declared_format(obj)
        components = obj.get("components")
        if not isinstance(components, list):
            raise RefTemplateError("'components' must be a list")
        raws: list[tuple[str, Any]] = []
        seen: list[str] = []
        for i, c in enumerate(components):
            kind, tag, payload = _parse_component(i, c)
            if kind in seen:
                raise RefTemplateError(f"duplicate {kind} component")
            seen.append(kind)
            raws.append((tag, payload))
        if "BODY" not in seen:
            raise RefTemplateError("a BODY component is required")
        texts = [p for tag, p in raws if tag in ("header_text", "body")]
        self.parameter_format = _decide_format(declared, texts)
        self._header_text: _Section | None = None
        self._header_media: str | None = None
        self._body = _Section([], [])
        self._footer = ""
        self._buttons: list[str] = []
        for tag, payload in raws:
            if tag == "header_text":
                self._header_text = _build_section(payload, self.parameter_format, "HEADER")
            elif tag == "header_media":
                self._header_media = payload
            elif tag == "body":
                self._body = _build_section(payload, self.parameter_format, "BODY")
            elif tag == "footer":
                self._footer = payload
            else:
                self._buttons = payload

    def placeholders(self) -> dict[str, list[str]]:
        header = list(self._header_text.params) if self._header_text else []
        if self._header_media:
            header = [self._header_media]
        needs = ("url", "copy_code", "otp")
        buttons = [str(i) for i, b in enumerate(self._buttons) if b in needs]
        return {"header": header, "body": list(self._body.params), "buttons": buttons}

    def hydrate(self, variables: object) -> tuple[list[dict[str, Any]], str]:
        """Components and preview, or RefHydrationError with every problem."""
        h = _Hydrator(self.parameter_format == "NAMED")
        if not isinstance(variables, dict):
            raise RefHydrationError([("", EXPECTED_OBJECT)])
        h.extra_keys("", variables, ("header", "body", "buttons").__contains__, EXTRA)
        header_value = _get(variables, "header")
        header: tuple[list[dict[str, Any]], list[str]] | None
        header_text = ""
        if self._header_media:
            media = h.media_header(header_value, self._header_media)
            header = None if media is None else ([media], [])
        else:
            sec = self._header_text or _Section([], [])
            header = h.section("/header", sec, header_value, True)
            if header is not None and self._header_text:
                header_text = self._header_text.substitute(header[1])
        body = h.section("/body", self._body, _get(variables, "body"), False)
        body_text = ""
        if body is not None:
            body_text = self._body.substitute(body[1])
            if len(body_text) > BODY_RENDERED_MAX:
                h.err(
                    "/body",
                    f"rendered body must be at most {BODY_RENDERED_MAX} characters,"
                    f" got {len(body_text)}",
                )
        buttons = h.buttons(self._buttons, _get(variables, "buttons"))
        if h.errors or header is None or body is None:
            raise RefHydrationError(h.errors)
        components: list[dict[str, Any]] = []
        for kind, params in (("header", header[0]), ("body", body[0])):
            if params:
                components.append({"type": kind, "parameters": params})
        preview = "\n\n".join(p for p in (header_text, body_text, self._footer) if p)
        return components + buttons, preview

    def render(self, variables: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
        if isinstance(variables, Mapping) and not isinstance(variables, dict):
            variables = dict(variables)
        return self.hydrate(variables)

    def render_json(self, variables_json: bytes) -> tuple[bytes, str]:
        components, preview = self.hydrate(_load_variables(variables_json))
        return orjson.dumps(components), preview

    def render_batch(
        self, variables: Sequence[bytes]
    ) -> list[tuple[bytes | None, str | None, list[tuple[str, str]]]]:
        out: list[tuple[bytes | None, str | None, list[tuple[str, str]]]] = []
        for v in variables:
            try:
                json, preview = self.render_json(v)
            except RefHydrationError as e:
                out.append((None, None, e.errors))
            else:
                out.append((json, preview, []))
        return out


def _load_variables(data: bytes) -> object:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise RefHydrationError([("", f"invalid JSON: {e}")]) from None
    if _depth(value) > JSON_MAX_DEPTH:
        raise RefHydrationError([("", "invalid JSON: recursion limit exceeded")])
    return value


__all__ = ["CompiledTemplate", "RefHydrationError", "RefTemplateError"]
