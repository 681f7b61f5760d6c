"""Typed contract of `ccx._native`, the Rust hot paths (checked by `mypy.stubtest`)."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, final

__all__ = [
    "CompiledTemplate",
    "HydrationError",
    "NativeError",
    "SchemaError",
    "TemplateError",
    "TokenBuckets",
    "ValidationError",
]

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

@final
class CompiledTemplate:
    """A Meta template definition (template-management JSON) compiled once.

    Placeholders are positional `{{1}}..{{n}}` (no gaps) or named `{{first_name}}`
    (`[a-z][a-z0-9_]*`, at most 20 characters), never mixed. Variables are
    `{"header": ..., "body": ..., "buttons": [...]}`: header/body are lists of values in
    placeholder order (positional) or objects by name (named); a value is a string, or in the
    body `{"type": "currency", "fallback_value", "code", "amount_1000"}` /
    `{"type": "date_time", "fallback_value"}`. A media header takes one media object
    (`{"type": "image", "link" | "id"}`, `document` may add `filename`, `location` takes
    `latitude`, `longitude`, `name`, `address`), bare or in a one-item list. `buttons` aligns
    with the template's buttons: URL suffix, coupon or OTP code strings, an optional
    quick-reply payload, null for static buttons. Nested objects must be dicts.
    """

    def __new__(cls, definition: str | bytes) -> CompiledTemplate:
        """Compile JSON text; raises TemplateError naming the first problem and where it is."""

    @property
    def name(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def category(self) -> str:
        """The definition's category, "" when absent."""

    @property
    def parameter_format(self) -> str:
        """POSITIONAL or NAMED: declared, else inferred (no placeholders: POSITIONAL)."""

    def placeholders(self) -> dict[str, list[str]]:
        """What a send needs: `header` and `body` parameter names ("1".. or names; the media
        kind for a media header) and `buttons`, the indexes of buttons that need a value."""

    def render(self, variables: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
        """(Meta `components`, preview); the preview is header, body and footer with values
        substituted, joined by blank lines. Raises HydrationError whose `.errors` lists every
        problem as (JSON pointer into the variables, message)."""

    def render_json(self, variables_json: bytes) -> tuple[bytes, str]:
        """`render` with JSON in and compact JSON out; invalid JSON is the error ("", ...)."""

    def render_batch(
        self, variables: Sequence[bytes]
    ) -> list[tuple[bytes | None, str | None, list[tuple[str, str]]]]:
        """`render_json` per item without the GIL: (json, preview, []) or (None, None, errors)."""

# ---------------------------------------------------------------- ratelimit

@final
class TokenBuckets:
    """Thread-safe token buckets per key: up to `burst` tokens, refilled at `rate` per second.

    Times are seconds from `clock` (default: a monotonic clock) unless `now` is given; a time
    earlier than a bucket's last update counts as that update. Raises ValueError for
    rate <= 0, burst < 1, n < 0 or non-finite numbers.
    """

    def __new__(
        cls, rate: float, burst: float, *, clock: Callable[[], float] | None = None
    ) -> TokenBuckets: ...
    def configure(self, key: str, rate: float, burst: float, *, now: float | None = None) -> None:
        """Per-key limits, kept until `remove`; a live bucket is refilled at its old rate up to
        `now`, then its tokens are clamped to the new burst."""

    def try_acquire(
        self, key: str, n: float = 1.0, *, now: float | None = None
    ) -> tuple[bool, float]:
        """(True, 0.0) and takes n tokens, or (False, seconds until n tokens are there; inf if
        n > burst). A new key starts full."""

    def try_acquire_batch(
        self, requests: Sequence[tuple[str, float]], *, now: float | None = None
    ) -> list[tuple[bool, float]]:
        """`try_acquire` for each (key, n) in order, at one time, under one lock."""

    def tokens(self, key: str, *, now: float | None = None) -> float:
        """Tokens available at `now` (burst for an unknown key), without taking any."""

    def remove(self, key: str) -> None:
        """Forget the key: its bucket and per-key limits."""

    def __len__(self) -> int:
        """Number of live buckets."""

    def evict_idle(self, idle_s: float, *, now: float | None = None) -> int:
        """Drop buckets that are full and unused for at least `idle_s`; returns how many."""
