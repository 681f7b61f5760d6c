"""The native hot paths, re-exported under stable names for the rest of ccx."""

from ccx._native import (
    CompiledSchema,
    CompiledTemplate,
    HydrationError,
    NativeError,
    SchemaError,
    TemplateError,
    TokenBuckets,
    ValidationError,
    WebhookSigner,
    generate_webhook_secret,
    hmac_sha256,
    hub_signature,
    verify_hub_signature,
    verify_hub_signature_batch,
)

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
