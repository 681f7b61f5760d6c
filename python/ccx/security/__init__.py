"""Encryption of stored secrets and PII: data keys by id, AES-256-GCM envelopes."""

from ccx.security.datakeys import DataKeyError, DataKeys, DecryptError

__all__ = ["DataKeyError", "DataKeys", "DecryptError"]
