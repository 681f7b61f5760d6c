"""The native hot paths, re-exported under stable names for the rest of ccx."""

from ccx._native import (
    CompiledTemplate,
    HydrationError,
    NativeError,
    SchemaError,
    TemplateError,
    TokenBuckets,
    ValidationError,
)

__all__ = [
    "CompiledTemplate",
    "HydrationError",
    "NativeError",
    "SchemaError",
    "TemplateError",
    "TokenBuckets",
    "ValidationError",
]
