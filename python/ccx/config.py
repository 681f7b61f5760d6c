"""Typed settings from `CCX_`-prefixed environment variables and an optional TOML file.

Precedence, highest first: environment (`CCX_<SECTION>_<FIELD>`), the TOML file named by
`CCX_CONFIG` (or passed explicitly), then the defaults below. Every field carries its doc;
`ccx config show --markdown` prints the table that the README embeds.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

ENV_PREFIX = "CCX_"


class ConfigError(ValueError):
    """A setting has a value of the wrong type or an unknown name."""


def setting(default: Any, doc: str) -> Any:
    """A settings field with a default and a one-line description."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = setting("INFO", "Log level: DEBUG, INFO, WARNING, ERROR.")
    json: bool = setting(True, "JSON lines on stderr (false: human-readable lines).")


@dataclass(frozen=True, slots=True)
class MongoSettings:
    uri: str = setting("mongodb://127.0.0.1:27017/", "MongoDB (or FerretDB) connection URI.")
    platform_db: str = setting("ccx", "Database holding tenants, keys and the audit log.")
    timeout_ms: int = setting(2000, "Server selection and socket timeout, in milliseconds.")
    pool_size: int = setting(
        32,
        "Most connections per process. FerretDB v1 runs out of SQLite connections (and stalls) "
        "when one client has about 100 queries in flight.",
    )
    ferretdb_query_indexes: bool = setting(
        False,
        "Create a new tenant's query-only indexes on FerretDB v1 too. It never uses them (it "
        "scans for every filter but `_id`) and they slow each write; MongoDB always gets them.",
    )


@dataclass(frozen=True, slots=True)
class RedisSettings:
    url: str = setting(
        "redis://127.0.0.1:6379/0", "Redis URL (idempotency, rate limits, breakers)."
    )
    timeout_s: float = setting(1.0, "Socket timeout, in seconds.")


@dataclass(frozen=True, slots=True)
class RabbitSettings:
    url: str = setting("amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ AMQP URL.")
    timeout_s: float = setting(3.0, "Connection timeout, in seconds.")
    reconnect_interval_s: float = setting(
        1.0, "Pause between reconnection attempts after the connection drops, in seconds."
    )


@dataclass(frozen=True, slots=True)
class ApiSettings:
    host: str = setting("127.0.0.1", "Address `ccx serve` binds.")
    port: int = setting(8000, "Port `ccx serve` binds.")
    workers: int = setting(1, "Granian worker processes.")
    task_impl: str = setting(
        "asyncio", "Granian's task implementation: `asyncio` or `rust` (Python < 3.12 only)."
    )
    http: str = setting("auto", "HTTP versions served: `auto`, `1` or `2`.")
    runtime_mode: str = setting("auto", "Granian's Rust runtime: `auto`, `st` or `mt`.")
    runtime_threads: int = setting(
        2,
        "Granian's Rust I/O threads per worker (2 about halves the p99 at 3,000 msg/s "
        "against 1; see the ingest benchmark).",
    )
    max_body_bytes: int = setting(65536, "Largest accepted request body (larger → 413).")
    max_batch_body_bytes: int = setting(
        8388608, "Largest body of POST /v1/messages/batch (up to 1,000 messages)."
    )


@dataclass(frozen=True, slots=True)
class MetaSettings:
    app_secret: str = setting(
        "sandbox-app-secret",
        "App secret of your Meta app: the key of `X-Hub-Signature-256` on status callbacks "
        "(the default is the sandbox's; set yours in production).",
    )
    verify_token: str = setting(
        "ccx-verify-token", "Token Meta's `GET /webhooks/meta` handshake must present."
    )
    max_callback_bytes: int = setting(
        3145728, "Largest status callback body accepted (Meta's can reach 3 MB)."
    )


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    host: str = setting("127.0.0.1", "Address the Meta sandbox simulator binds.")
    port: int = setting(8090, "Port the Meta sandbox simulator binds.")
    tokens: str = setting("sandbox", "Comma-separated bearer tokens the sandbox accepts.")
    app_secret: str = setting("sandbox-app-secret", "App secret that signs sandbox callbacks.")
    callback_url: str = setting("", "Where the sandbox POSTs status callbacks (empty: none).")
    seed: int = setting(0, "Random seed of the sandbox (faults, wamids), for reproducible runs.")
    waba_id: str = setting("100000000000001", "Sandbox WABA id (`entry[].id` in callbacks).")
    throughput: int = setting(80, "Sandbox per-number throughput, msg/s (tiers 20, 80, 1000).")
    pair_interval_s: float = setting(6.0, "Sandbox pair limit: one message per N seconds.")
    pair_burst: int = setting(45, "Sandbox pair limit burst (messages to one user at once).")
    sent_delay_s: float = setting(0.1, "Sandbox: seconds from accept to the `sent` callback.")
    delivered_delay_s: float = setting(0.4, "Sandbox: seconds from `sent` to `delivered`.")
    read_delay_s: float = setting(1.0, "Sandbox: seconds from `delivered` to `read`.")
    callback_max_attempts: int = setting(8, "Sandbox: delivery attempts per callback POST.")
    callback_retry_base_s: float = setting(1.0, "Sandbox: first callback retry delay (doubles).")
    callback_timeout_s: float = setting(5.0, "Sandbox: timeout of one callback POST, in seconds.")
    hang_s: float = setting(30.0, "Sandbox: how long 'no answer' faults hold a request.")
    templates_file: str = setting("", "Sandbox: JSON file of templates (empty: built-in set).")
    faults_file: str = setting("", "Sandbox: JSON file of fault settings (empty: no faults).")
    ledger_max_entries: int = setting(200000, "Sandbox: ledger entries kept (counts stay exact).")


@dataclass(frozen=True, slots=True)
class AuthSettings:
    keys: str = setting(
        "",
        "Verification keys as a JSON array of JWKs or {kid, alg, secret, pem or pem_file} objects.",
    )
    jwks_file: str = setting("", "Path of a JWKS document (RFC 7517) with more verification keys.")
    algorithms: str = setting(
        "HS256,EdDSA,RS256", "Comma-separated JWT algorithm allow-list (`none` is never allowed)."
    )
    active_kid: str = setting(
        "", "kid of a configured key that signs tokens when the key store has no active key."
    )
    use_key_store: bool = setting(True, "Also load ccx-issued keys from the `keys` collection.")
    leeway_s: int = setting(30, "Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.")
    cache_ttl_s: float = setting(30.0, "How long a verified token stays cached, in seconds.")
    cache_size: int = setting(10000, "Most verified tokens kept in the cache.")
    max_token_bytes: int = setting(8192, "Longer bearer tokens are rejected before parsing.")
    token_ttl_s: int = setting(3600, "Default lifetime of tokens issued by `ccx token issue`.")
    max_token_ttl_s: int = setting(
        86400, "Longest token lifetime; a rotated-out key keeps verifying this long."
    )
    keyring_refresh_s: float = setting(
        60.0, "How often a running API reloads the key store (picks up rotations)."
    )


@dataclass(frozen=True, slots=True)
class IngestSettings:
    window_ms: float = setting(
        2.0, "Group-commit window: requests arriving within it share one round trip per service."
    )
    max_batch: int = setting(256, "Most requests in one group commit.")
    commit_concurrency: int = setting(
        1, "Group commits in flight at once per API process (2 overlaps a remote store's trips)."
    )
    idempotency_ttl_s: int = setting(604800, "How long an idempotency key is kept (7 days).")
    replay_wait_s: float = setting(
        2.0, "How long a repeat waits for another process's in-flight original before 409."
    )
    relay_after_s: float = setting(
        10.0, "A message whose publish is unconfirmed this long is republished by the relay."
    )
    relay_interval_s: float = setting(5.0, "Pause between relay passes, in seconds.")
    writer_dead_after_s: float = setting(
        30.0, "An API process silent this long is gone: the relay republishes its messages."
    )
    relay_batch: int = setting(
        5000, "Most messages of a dead writer one relay pass republishes per tenant."
    )


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    data_keys: str = setting(
        "",
        "AES-256 data keys (stored secrets, PII) as comma-separated `kid:base64key`, "
        "32 bytes each; empty: the key file.",
    )
    active_data_key: str = setting(
        "", "kid of the data key that encrypts new values (empty: the last listed)."
    )
    data_key_file: str = setting(
        "var/ccx/data-keys.json",
        "Data keys used when `data_keys` is empty; created with one random key if missing "
        "(local development only).",
    )


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    meta_base_url: str = setting(
        "http://127.0.0.1:8090",
        "Base URL of the Meta Graph API (`https://graph.facebook.com` in production; "
        "the default is `ccx sandbox`).",
    )
    meta_api_version: str = setting("v23.0", "Graph API version of the send endpoint (pinned).")
    timeout_s: float = setting(2.0, "Total timeout of one send to Meta, in seconds.")
    connect_timeout_s: float = setting(
        1.0, "Connect timeout of one send (a connect that times out is surely not sent)."
    )
    max_connections: int = setting(64, "Pooled keep-alive connections to Meta per process.")
    breaker_window_s: float = setting(30.0, "Circuit breaker: sliding window, in seconds.")
    breaker_min_requests: int = setting(
        20, "Circuit breaker: fewest attempts in the window before it may open."
    )
    breaker_failure_ratio: float = setting(
        0.5, "Circuit breaker: share of failed attempts (retryable or ambiguous) that opens it."
    )
    breaker_cooldown_s: float = setting(
        10.0, "Circuit breaker: seconds open before probes are let through."
    )
    breaker_half_open_probes: int = setting(
        3, "Circuit breaker: probes in half-open; all must succeed to close it."
    )
    prefetch: int = setting(
        16, "Worker: unacknowledged envelopes per tier queue (each holds up to 256 messages)."
    )
    envelopes: int = setting(
        32, "Worker: envelopes processed at once per class (critical+high, default+low)."
    )
    inflight_initial: int = setting(32, "Worker: sends in flight at start (AIMD adjusts it).")
    inflight_min: int = setting(4, "Worker: lowest in-flight limit.")
    inflight_max: int = setting(256, "Worker: highest in-flight limit.")
    latency_target_s: float = setting(
        1.0, "Worker: a send slower than this counts as congestion (cuts the in-flight limit)."
    )
    max_attempts: int = setting(
        7, "Sends of a message before it goes to reconciliation (retries at 2s, 4s ... 30m)."
    )
    lease_s: float = setting(
        60.0, "Claim lease: a message still dispatching this long after its claim is swept."
    )
    reconcile_interval_s: float = setting(
        6 * 3600.0, "A message out of retries is tried once more this often (reconciliation)."
    )
    reconcile_for_s: float = setting(
        7 * 86400.0, "How long reconciliation goes on before the message is `expired`."
    )
    shared_limits: bool = setting(
        True,
        "Worker: enforce the rate limits across every worker through Redis (the per-process "
        "buckets stay the first stage).",
    )
    recipient_interval_s: float = setting(
        6.0, "Per sender-recipient pair: one message per this many seconds after the burst."
    )
    recipient_burst: int = setting(45, "Per sender-recipient pair: messages allowed at once.")
    template_rate: float = setting(
        0.0, "Per tenant and template: messages per second across workers (0: no limit)."
    )
    tenant_rate: float = setting(
        0.0, "Per tenant: messages per second across workers (0: no limit)."
    )
    ambiguous_window_s: float = setting(
        900.0,
        "How long an undetermined message waits for Meta's evidence before a request that "
        'opted in (`on_ambiguous: "resend"`) is sent again (once).',
    )
    blocked_countries: str = setting(
        "",
        "Comma-separated calling codes no tenant sends to (each tenant adds its own with "
        "`ccx tenant block-countries`).",
    )
    suppression_refresh_s: float = setting(
        10.0, "Worker: how often a tenant's suppression list (opt-outs) is read again."
    )
    sweep_interval_s: float = setting(
        15.0, "Worker: how often expired leases and lost retries are looked for."
    )
    events_retention_days: int = setting(
        30,
        "Message events (the history) older than this are deleted by the worker; the message "
        "document keeps its state (its projection is days past them by then).",
    )
    retention_sweep_s: float = setting(
        3600.0, "Worker: how often events past events_retention_days are deleted."
    )
    hold_pause_s: float = setting(
        300.0, "Worker: how long a sender number pauses after a hold error (131031, 368...)."
    )
    tenant_refresh_s: float = setting(5.0, "Worker: how often new tenants are looked for.")
    db_writers: int = setting(
        2,
        "Worker: batched MongoDB writes (claims, outcomes) in flight at once. FerretDB's "
        "SQLite has one writer; more concurrent writers wait for it in 100 ms sleeps.",
    )
    db_readers: int = setting(
        8,
        "Worker: message reads in flight at once; urgent messages are read first (a batch "
        "of thousands never queues an OTP's read behind its own).",
    )
    project_claims: bool = setting(
        False,
        "Worker: also write `dispatching` onto the message document at each claim (one more "
        "update per send). Off, the claim is its event only and the outcome's write projects "
        "both: the document reads `queued` until the send's outcome is recorded.",
    )
    metrics_port: int = setting(
        0, "Worker: port of its Prometheus /metrics on 127.0.0.1 (0: none)."
    )


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    timeout_s: float = setting(
        5.0, "Client webhooks: total timeout of one delivery POST, in seconds."
    )
    retry_for_s: float = setting(
        86400.0, "Client webhooks: how long a delivery is retried before it is `failed`."
    )
    secret_overlap_s: float = setting(
        86400.0,
        "Client webhooks: default time a rotated-out secret keeps signing beside the new one.",
    )
    allow_networks: str = setting(
        "",
        "Client webhooks: comma-separated CIDRs a destination may resolve to although private, "
        "loopback or link-local (local development only, e.g. `127.0.0.0/8,::1/128`).",
    )
    concurrency: int = setting(
        64, "Delivery worker: messages whose webhooks are being delivered at once."
    )
    max_connections: int = setting(
        128, "Delivery worker: pooled connections to client endpoints per process."
    )
    endpoint_refresh_s: float = setting(
        5.0, "Delivery worker: how often a tenant's endpoints are read again."
    )
    retention_days: int = setting(
        30, "Delivery records (and so replays) are kept this many days, then deleted."
    )
    retention_sweep_s: float = setting(
        3600.0, "Delivery worker: how often delivery records past their retention are deleted."
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of ccx, grouped by the part that uses it."""

    log: LogSettings = field(default_factory=LogSettings)
    mongo: MongoSettings = field(default_factory=MongoSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    rabbitmq: RabbitSettings = field(default_factory=RabbitSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    meta: MetaSettings = field(default_factory=MetaSettings)
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    dispatch: DispatchSettings = field(default_factory=DispatchSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)


S = TypeVar("S")


def _coerce(name: str, kind: type, raw: Any) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name}: expected a boolean, got {raw!r}")
    if kind is int:
        if isinstance(raw, bool):
            raise ConfigError(f"{name}: expected an integer, got {raw!r}")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None
    if kind is float:
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if not isinstance(raw, str):
        raise ConfigError(f"{name}: expected a string, got {raw!r}")
    return raw


def _build_section(
    cls: type[S], section: str, table: Mapping[str, Any], env: Mapping[str, str]
) -> S:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"[{section}]: unknown setting(s) {sorted(unknown)}")
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        env_name = f"{ENV_PREFIX}{section.upper()}_{f.name.upper()}"
        if env_name in env:
            values[f.name] = _coerce(env_name, hints[f.name], env[env_name])
        elif f.name in table:
            values[f.name] = _coerce(f"{section}.{f.name}", hints[f.name], table[f.name])
    return cls(**values)


def load_settings(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read settings from `env` (default `os.environ`) and a TOML file (default `$CCX_CONFIG`)."""
    env = os.environ if env is None else env
    path = path or env.get(f"{ENV_PREFIX}CONFIG") or None
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    hints = get_type_hints(Settings)
    unknown = set(data) - set(hints)
    if unknown:
        raise ConfigError(f"unknown config section(s) {sorted(unknown)}")
    sections = {}
    for name, cls in hints.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[{name}] must be a table")
        sections[name] = _build_section(cls, name, table, env)
    return Settings(**sections)


def describe() -> Iterator[tuple[str, str, str, str]]:
    """Yield (env var, TOML key, default, doc) for every setting."""
    for section in fields(Settings):
        cls = get_type_hints(Settings)[section.name]
        for f in fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else ""
            shown = str(default).lower() if isinstance(default, bool) else str(default)
            yield (
                f"{ENV_PREFIX}{section.name.upper()}_{f.name.upper()}",
                f"{section.name}.{f.name}",
                shown,
                str(f.metadata.get("doc", "")),
            )


def markdown_table() -> str:
    """The settings reference as a Markdown table."""
    rows = ["| environment | TOML key | default | meaning |", "| --- | --- | --- | --- |"]
    rows += [f"| `{e}` | `{k}` | `{d}` | {doc} |" for e, k, d, doc in describe()]
    return "\n".join(rows)
