"""Template registry: what the sandbox knows about each template, and the checks Meta applies.

A send names a template by (name, language). The registry answers 132001 (unknown name,
language or not approved), 132015 (paused), 132016 (disabled), 132000 (parameter count) and
132012 (parameter format), in that order, per component: header, body, buttons.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccx.meta_facts import TEMPLATE_CATEGORIES, TEMPLATE_STATUSES
from ccx.sandbox.errors import MetaError
from ccx.sandbox.ids import template_id

STATUSES = frozenset(TEMPLATE_STATUSES)
CATEGORIES = frozenset(TEMPLATE_CATEGORIES)
HEADER_FORMATS = frozenset({"NONE", "TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"})
MEDIA_HEADERS = frozenset({"IMAGE", "VIDEO", "DOCUMENT", "LOCATION"})
#: Template button type → (request `sub_type`, request parameter `type`) when it takes a value.
BUTTON_SHAPES: dict[str, tuple[str, str]] = {
    "QUICK_REPLY": ("quick_reply", "payload"),
    "URL": ("url", "text"),
    "OTP": ("url", "text"),  # authentication copy-code button: the code goes in as a URL param
    "COPY_CODE": ("copy_code", "coupon_code"),
    "FLOW": ("flow", "action"),
    "PHONE_NUMBER": ("phone_number", "text"),
}
BODY_PARAM_TYPES = frozenset({"text", "currency", "date_time"})
_NAMED_PARAM = re.compile(r"^[a-z_][a-z0-9_]{0,19}$")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z0-9_]+)\s*\}\}")


def _bad(message: str) -> ValueError:
    return ValueError(f"template definition: {message}")


@dataclass(frozen=True, slots=True)
class Button:
    """One template button; `dynamic` buttons need a parameter at send time."""

    type: str
    text: str = ""
    dynamic: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Button:
        kind = str(data.get("type", "")).upper()
        if kind not in BUTTON_SHAPES:
            raise _bad(f"unknown button type {kind!r}")
        dynamic = bool(data.get("dynamic", kind in {"OTP", "COPY_CODE"}))
        return cls(kind, str(data.get("text", "")), dynamic)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "text": self.text, "dynamic": self.dynamic}


@dataclass(frozen=True, slots=True)
class Template:
    """A template as the registry holds it (see README for the JSON form)."""

    name: str
    language: str
    category: str
    status: str = "APPROVED"
    body_text: str = ""
    body_params: int = 0
    header_format: str = "NONE"
    header_text: str = ""
    header_params: int = 0
    buttons: tuple[Button, ...] = ()
    parameter_format: str = "POSITIONAL"
    body_param_names: tuple[str, ...] = ()
    id: str = field(default="")

    @property
    def expected_header_params(self) -> int:
        return 1 if self.header_format in MEDIA_HEADERS else self.header_params

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Template:
        try:
            name = str(data["name"])
            language = str(data["language"])
        except KeyError as exc:
            raise _bad(f"missing {exc.args[0]!r}") from None
        category = str(data.get("category", "UTILITY")).upper()
        status = str(data.get("status", "APPROVED")).upper()
        header_format = str(data.get("header_format", "NONE")).upper()
        parameter_format = str(data.get("parameter_format", "POSITIONAL")).upper()
        names = tuple(str(n) for n in data.get("body_param_names", ()))
        body_params = int(data.get("body_params", len(names)))
        if category not in CATEGORIES:
            raise _bad(f"unknown category {category!r}")
        if status not in STATUSES:
            raise _bad(f"unknown status {status!r}")
        if header_format not in HEADER_FORMATS:
            raise _bad(f"unknown header_format {header_format!r}")
        if parameter_format not in {"POSITIONAL", "NAMED"}:
            raise _bad(f"unknown parameter_format {parameter_format!r}")
        if parameter_format == "NAMED" and (
            len(names) != body_params or not all(_NAMED_PARAM.match(n) for n in names)
        ):
            raise _bad("NAMED templates need one valid body_param_names entry per body param")
        header_params = int(data.get("header_params", 0))
        if header_params not in (0, 1) or (header_params and header_format != "TEXT"):
            raise _bad("header_params is 0 or 1, and only for TEXT headers")
        buttons = tuple(Button.from_json(b) for b in data.get("buttons", ()))
        return cls(
            name=name,
            language=language,
            category=category,
            status=status,
            body_text=str(data.get("body_text", "")),
            body_params=body_params,
            header_format=header_format,
            header_text=str(data.get("header_text", "")),
            header_params=header_params,
            buttons=buttons,
            parameter_format=parameter_format,
            body_param_names=names,
            id=str(data.get("id") or template_id(name, language)),
        )

    def to_json(self) -> dict[str, Any]:
        """The registry form (what `from_json` reads and the admin API shows)."""
        return {
            "name": self.name,
            "language": self.language,
            "category": self.category,
            "status": self.status,
            "body_text": self.body_text,
            "body_params": self.body_params,
            "header_format": self.header_format,
            "header_text": self.header_text,
            "header_params": self.header_params,
            "buttons": [b.to_json() for b in self.buttons],
            "parameter_format": self.parameter_format,
            "body_param_names": list(self.body_param_names),
            "id": self.id,
        }

    def to_graph(self) -> dict[str, Any]:
        """The shape `GET /{waba_id}/message_templates` returns for this template."""
        components: list[dict[str, Any]] = []
        if self.header_format != "NONE":
            header: dict[str, Any] = {"type": "HEADER", "format": self.header_format}
            if self.header_format == "TEXT":
                header["text"] = self.header_text
            components.append(header)
        components.append({"type": "BODY", "text": self.body_text})
        if self.buttons:
            components.append(
                {
                    "type": "BUTTONS",
                    "buttons": [{"type": b.type, "text": b.text} for b in self.buttons],
                }
            )
        return {
            "name": self.name,
            "parameter_format": self.parameter_format,
            "components": components,
            "language": self.language,
            "status": self.status,
            "category": self.category,
            "id": self.id,
        }


def _count_mismatch(where: str, got: int, expected: int) -> MetaError:
    return MetaError(
        132000,
        f"{where}: number of localizable_params ({got}) does not match the expected number "
        f"of params ({expected})",
        message="(#132000) Number of parameters does not match the expected number of params",
    )


def _format_mismatch(details: str) -> MetaError:
    return MetaError(132012, details)


def _params(component: Mapping[str, Any], where: str) -> list[Mapping[str, Any]]:
    params = component.get("parameters", [])
    if not isinstance(params, list) or not all(isinstance(p, dict) for p in params):
        raise MetaError(131009, f"{where}: parameters must be a list of objects")
    return params


def _param_value(param: Mapping[str, Any], where: str) -> str:
    """The value a parameter puts into the text; 131008 when its object is missing."""
    kind = param.get("type")
    value = param.get(kind) if isinstance(kind, str) else None
    if kind == "text" or kind in {"payload", "coupon_code"}:
        if not isinstance(value, str) or not value:
            raise MetaError(131008, f"{where}: parameter of type {kind} needs a non-empty {kind}")
        return value
    if kind in {"currency", "date_time"}:
        if not isinstance(value, dict) or not isinstance(value.get("fallback_value"), str):
            raise MetaError(131008, f"{where}: {kind} parameter needs fallback_value")
        if kind == "currency" and not (
            isinstance(value.get("code"), str) and isinstance(value.get("amount_1000"), int)
        ):
            raise MetaError(131008, f"{where}: currency parameter needs code and amount_1000")
        return str(value["fallback_value"])
    if kind in {"image", "video", "document"}:
        if not isinstance(value, dict) or not (value.get("link") or value.get("id")):
            raise MetaError(131008, f"{where}: {kind} parameter needs link or id")
        return str(value.get("link") or value.get("id"))
    if kind == "location":
        if not isinstance(value, dict) or "latitude" not in value or "longitude" not in value:
            raise MetaError(131008, f"{where}: location parameter needs latitude and longitude")
        return f"{value['latitude']},{value['longitude']}"
    if kind == "action":
        return json.dumps(value, sort_keys=True)
    raise MetaError(131009, f"{where}: unknown parameter type {kind!r}")


class TemplateRegistry:
    """Templates by (name, language), with Meta's send-time checks."""

    def __init__(self, templates: Iterable[Template] = ()) -> None:
        self._by_key: dict[tuple[str, str], Template] = {}
        for t in templates:
            self.upsert(t)

    def upsert(self, template: Template) -> None:
        self._by_key[(template.name, template.language)] = template

    def get(self, name: str, language: str) -> Template | None:
        return self._by_key.get((name, language))

    def all(self) -> list[Template]:
        return sorted(self._by_key.values(), key=lambda t: (t.name, t.language))

    @classmethod
    def from_json(cls, data: Any) -> TemplateRegistry:
        items = data.get("templates") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise _bad('expected a list or {"templates": [...]}')
        return cls(Template.from_json(item) for item in items)

    @classmethod
    def from_file(cls, path: str | Path) -> TemplateRegistry:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    def resolve(self, name: str, language: str) -> Template:
        """The sendable template, or the Meta error a send of it gets."""
        template = self.get(name, language)
        if template is None:
            raise MetaError(132001, f"template name ({name}) does not exist in {language}")
        if template.status == "PAUSED":
            raise MetaError(132015, f"template {name} ({language}) is paused")
        if template.status == "DISABLED":
            raise MetaError(132016, f"template {name} ({language}) is disabled")
        if template.status != "APPROVED":
            raise MetaError(
                132001,
                f"template name ({name}) does not exist in {language} "
                f"(status {template.status}, only APPROVED templates can be sent)",
            )
        return template

    def check_send(self, template: Template, components: Sequence[Mapping[str, Any]]) -> str:
        """Check the send's components against `template`; return the rendered body text."""
        header, body, buttons = _split_components(components)
        _check_header(template, header)
        values = _check_body(template, body)
        _check_buttons(template, buttons)
        return render(template, values)


def _split_components(
    components: Sequence[Mapping[str, Any]],
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None, dict[int, Mapping[str, Any]]]:
    header: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = None
    buttons: dict[int, Mapping[str, Any]] = {}
    for comp in components:
        kind = comp.get("type")
        if kind == "header" and header is None:
            header = comp
        elif kind == "body" and body is None:
            body = comp
        elif kind == "button":
            index = _button_index(comp)
            if index in buttons:
                raise MetaError(131009, f"buttons: index {index} appears twice")
            buttons[index] = comp
        elif kind in {"header", "body"}:
            raise MetaError(131009, f"components: more than one {kind} component")
        else:
            raise MetaError(131009, f"components: unsupported component type {kind!r}")
    return header, body, buttons


def _button_index(comp: Mapping[str, Any]) -> int:
    raw = comp.get("index")
    if raw is None or "sub_type" not in comp:
        raise MetaError(131008, "button component needs sub_type and index")
    text = str(raw)
    if isinstance(raw, bool) or not text.isdigit() or int(text) > 9:
        raise MetaError(131009, f"button index must be 0..9, got {raw!r}")
    return int(text)


def _check_header(template: Template, header: Mapping[str, Any] | None) -> None:
    params = _params(header, "header") if header is not None else []
    expected = template.expected_header_params
    if len(params) != expected:
        raise _count_mismatch("header", len(params), expected)
    if params:
        wanted = template.header_format.lower()
        if params[0].get("type") != wanted:
            raise _format_mismatch(
                f"header: parameter type {params[0].get('type')!r} does not match the "
                f"template header format {template.header_format}"
            )
        _param_value(params[0], "header")


def _check_body(template: Template, body: Mapping[str, Any] | None) -> dict[str, str]:
    params = _params(body, "body") if body is not None else []
    if len(params) != template.body_params:
        raise _count_mismatch("body", len(params), template.body_params)
    values: dict[str, str] = {}
    for position, param in enumerate(params, start=1):
        if param.get("type") not in BODY_PARAM_TYPES:
            raise MetaError(131009, f"body: parameter type {param.get('type')!r} is not valid")
        name = param.get("parameter_name")
        if template.parameter_format == "NAMED":
            if name not in template.body_param_names or name in values:
                raise _format_mismatch(
                    f"body: parameter_name {name!r} is not one of the template's "
                    f"named parameters {list(template.body_param_names)}"
                )
            key = str(name)
        else:
            if name is not None:
                raise _format_mismatch("body: positional template got a named parameter")
            key = str(position)
        values[key] = _param_value(param, "body")
    return values


def _check_buttons(template: Template, requested: Mapping[int, Mapping[str, Any]]) -> None:
    for index in requested:
        if index >= len(template.buttons):
            raise MetaError(131009, f"buttons: template has no button at index {index}")
    for index, button in enumerate(template.buttons):
        comp = requested.get(index)
        params = _params(comp, f"button {index}") if comp is not None else []
        sub_type, param_type = BUTTON_SHAPES[button.type]
        optional = button.type == "QUICK_REPLY"
        expected = 1 if button.dynamic else 0
        if not (optional and len(params) <= 1) and len(params) != expected:
            raise _count_mismatch(f"button {index}", len(params), expected)
        if comp is None:
            continue
        if comp.get("sub_type") != sub_type:
            raise _format_mismatch(
                f"button {index}: sub_type {comp.get('sub_type')!r} does not match the "
                f"template button type {button.type} (expected {sub_type!r})"
            )
        for param in params:
            if param.get("type") != param_type:
                raise _format_mismatch(
                    f"button {index}: parameter type {param.get('type')!r} does not match "
                    f"{button.type} (expected {param_type!r})"
                )
            _param_value(param, f"button {index}")


def render(template: Template, values: Mapping[str, str]) -> str:
    """The body text with its placeholders filled (used as the ledger's body)."""
    if not template.body_text:
        return "\x1f".join(values[k] for k in values)
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template.body_text)


DEFAULT_TEMPLATES: tuple[dict[str, Any], ...] = (
    {
        "name": "otp_code",
        "language": "en_US",
        "category": "AUTHENTICATION",
        "body_text": "{{1}} is your verification code. For your security, do not share this code.",
        "body_params": 1,
        "buttons": [{"type": "OTP", "text": "Copy code", "dynamic": True}],
    },
    {
        "name": "otp_code",
        "language": "pt_BR",
        "category": "AUTHENTICATION",
        "body_text": "{{1}} é o seu código de verificação. Não compartilhe este código.",
        "body_params": 1,
        "buttons": [{"type": "OTP", "text": "Copiar código", "dynamic": True}],
    },
    {
        "name": "order_update",
        "language": "en_US",
        "category": "UTILITY",
        "header_format": "IMAGE",
        "body_text": "Hi {{1}}, your order {{2}} is on its way.",
        "body_params": 2,
        "buttons": [
            {"type": "QUICK_REPLY", "text": "Track"},
            {"type": "URL", "text": "Open order", "dynamic": True},
        ],
    },
    {
        "name": "promo",
        "language": "en_US",
        "category": "MARKETING",
        "body_text": "Hi {{1}}, this week only: {{2}} off everything.",
        "body_params": 2,
        "buttons": [{"type": "COPY_CODE", "text": "Copy offer code", "dynamic": True}],
    },
    {
        "name": "welcome",
        "language": "en_US",
        "category": "MARKETING",
        "parameter_format": "NAMED",
        "body_text": "Welcome aboard, {{first_name}}!",
        "body_param_names": ["first_name"],
    },
    {
        "name": "hello_world",
        "language": "en_US",
        "category": "UTILITY",
        "body_text": "Hello World",
    },
    {
        "name": "spring_sale",
        "language": "en_US",
        "category": "MARKETING",
        "status": "PAUSED",
        "body_text": "Spring sale: {{1}} off.",
        "body_params": 1,
    },
    {
        "name": "old_notice",
        "language": "en_US",
        "category": "UTILITY",
        "status": "DISABLED",
        "body_text": "Notice.",
    },
    {
        "name": "new_feature",
        "language": "en_US",
        "category": "MARKETING",
        "status": "PENDING",
        "body_text": "Try our new feature.",
    },
)


def default_registry() -> TemplateRegistry:
    """The built-in template set (README lists it)."""
    return TemplateRegistry.from_json(list(DEFAULT_TEMPLATES))
