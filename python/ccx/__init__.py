"""ccx: a WhatsApp Business messaging gateway with Rust hot paths."""

__version__ = "0.1.0"
__all__ = ["__version__"]
