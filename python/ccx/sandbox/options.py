"""Everything one sandbox process is started with (built by the CLI from settings and flags)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ccx.sandbox.callbacks import CallbackSettings
from ccx.sandbox.faults import FaultConfig
from ccx.sandbox.limits import LimitSettings
from ccx.sandbox.templates import TemplateRegistry, default_registry

DEFAULT_TOKEN = "sandbox"


@dataclass(frozen=True)
class SandboxOptions:
    host: str = "127.0.0.1"
    port: int = 8090
    tokens: frozenset[str] = frozenset({DEFAULT_TOKEN})
    app_secret: str = "sandbox-app-secret"
    waba_id: str = "100000000000001"
    seed: int = 0
    limits: LimitSettings = field(default_factory=LimitSettings)
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)
    faults: FaultConfig = field(default_factory=FaultConfig)
    templates: TemplateRegistry = field(default_factory=default_registry)
    ledger_max_entries: int = 200_000
    #: Where to write `{"host", "port", "pid"}` once the server listens (empty: nowhere).
    ready_file: str = ""
