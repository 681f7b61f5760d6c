"""Typed contract of `ccx._native`, the Rust hot paths (checked by `mypy.stubtest`)."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, final

__all__ = [
    "CompiledSchema",
    "CompiledTemplate",
    "HydrationError",
    "NativeError",
    "SchemaError",
    "TemplateError",
    "TokenBuckets",
    "ValidationError",
    "WebhookSigner",
    "generate_webhook_secret",
    "hmac_sha256",
    "hub_signature",
    "verify_hub_signature",
    "verify_hub_signature_batch",
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

@final
class CompiledSchema:
    """A JSON Schema (draft 2020-12) compiled once; validates raw request bytes.

    Documents must be strict JSON: UTF-8, no NaN/Infinity, no lone surrogates, nested less
    than 128 deep, numbers within float range. Messages are capped at 1 KiB and long values
    are shown as "value". Documents of 64 KiB or more are checked with the GIL released.
    """

    def __new__(cls, schema: str | bytes) -> CompiledSchema:
        """Compile the schema's JSON text; raises SchemaError saying why it is invalid."""

    def validate(self, data: bytes) -> Any:
        """Parse and validate `data`; return the parsed object (as `json.loads` would).

        Raises ValidationError whose `.errors` lists every (JSON pointer, message); a parse
        failure is one error at path "" giving the line and column.
        """

    def is_valid(self, data: bytes) -> bool:
        """Whether `data` parses and matches the schema."""

    def validate_batch(self, items: Sequence[bytes]) -> list[tuple[Any, list[tuple[str, str]]]]:
        """Per item `(parsed, [])` when valid, else `(None, errors)`; work runs without the GIL."""

# ---------------------------------------------------------------- signing

def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 of `message` under `key` (32 bytes)."""

def hub_signature(app_secret: bytes, body: bytes) -> str:
    """Meta's `X-Hub-Signature-256` value of the raw body: "sha256=<lowercase hex>"."""

def verify_hub_signature(app_secret: bytes, body: bytes, header: str | None) -> bool:
    """Constant-time check of an `X-Hub-Signature-256` header (hex in either case).

    False for None, a missing "sha256=" prefix, bad hex, a wrong length or a mismatch.
    """

def verify_hub_signature_batch(
    app_secret: bytes, items: Sequence[tuple[bytes, str | None]]
) -> list[bool]:
    """`verify_hub_signature` for each (body, header), with the GIL released."""

def generate_webhook_secret() -> str:
    """A new Standard Webhooks secret: "whsec_" + base64 of 32 bytes from the OS RNG."""

@final
class WebhookSigner:
    """Standard Webhooks signatures: "v1,<base64>" of HMAC-SHA256 over "{id}.{timestamp}.{body}".

    Several secrets allow rotation: all of them sign, any of them verifies.
    """

    def __new__(cls, secrets: Sequence[str | bytes]) -> WebhookSigner:
        """Each secret is "whsec_<base64>" text (prefix and padding optional) or raw bytes.

        Raises NativeError for no secrets, an empty one or bad base64.
        """

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """Space-separated "v1,<base64>" signatures, one per secret in secret order."""

    def verify(
        self,
        msg_id: str,
        timestamp: int,
        body: bytes,
        signature_header: str,
        *,
        now: int | None = None,
        tolerance_s: int = 300,
    ) -> bool:
        """True when any "v1," entry matches any secret (constant-time compare) and
        |now - timestamp| <= tolerance_s; `now` defaults to the current unix time.
        """

    def sign_batch(self, items: Sequence[tuple[str, int, bytes]]) -> list[str]:
        """`sign` for each (msg_id, timestamp, body), with the GIL released."""

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
