"""Typed contract of `ccx._native`, the Rust hot paths (checked by `mypy.stubtest`)."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, final

# ---------------------------------------------------------------- errors

class NativeError(ValueError):
    """Base class of every error raised by ccx._native."""

class SchemaError(NativeError):
    """The JSON Schema itself is invalid."""

class ValidationError(NativeError):
    """The document does not match the schema; `.errors` lists (JSON pointer, message)."""

    errors: list[tuple[str, str]]

class TemplateError(NativeError):
    """A template definition is invalid."""

class HydrationError(NativeError):
    """Variables do not fit the template; `.errors` lists (path, message)."""

    errors: list[tuple[str, str]]

# ---------------------------------------------------------------- schema
# (schema section: owned by the schema module)

# ---------------------------------------------------------------- signing
# (signing section: owned by the signing module)

# ---------------------------------------------------------------- template
# (template section: owned by the template module)

# ---------------------------------------------------------------- ratelimit
# (ratelimit section: owned by the ratelimit module)
