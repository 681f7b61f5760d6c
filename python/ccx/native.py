"""The native hot paths, re-exported under stable names for the rest of ccx."""

from ccx._native import (
    HydrationError,
    NativeError,
    SchemaError,
    TemplateError,
    ValidationError,
)

__all__ = [
    "HydrationError",
    "NativeError",
    "SchemaError",
    "TemplateError",
    "ValidationError",
]
