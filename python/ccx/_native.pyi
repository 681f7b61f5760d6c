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
# (template section: owned by the template module)

# ---------------------------------------------------------------- ratelimit
# (ratelimit section: owned by the ratelimit module)
