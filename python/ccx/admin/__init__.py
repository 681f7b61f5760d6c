"""Operator commands that span several stages (tenants)."""
