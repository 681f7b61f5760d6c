"""`ccx token issue …` and `ccx keys rotate|list|purge|jwks`.

Exit status: 0 done, 1 failed (no signing key, MongoDB unreachable), 2 bad usage or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import orjson
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from ccx.auth import keystore
from ccx.auth.keyring import EDDSA, HS256, RS256, KeyRing, KeyRingError
from ccx.auth.scopes import Scope, format_scopes, parse_scopes
from ccx.auth.tokens import Authenticator, issue
from ccx.config import ConfigError, Settings, load_settings


class _Failure(Exception):
    """A command failed for a reason worth one line on stderr."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _client(settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    # ccx.store.mongo.make_client will own client options; until then keep it minimal.
    return AsyncMongoClient(
        settings.mongo.uri,
        serverSelectionTimeoutMS=settings.mongo.timeout_ms,
        socketTimeoutMS=settings.mongo.timeout_ms,
    )


async def _with_db(settings: Settings, work: Callable[[keystore.Database], Awaitable[int]]) -> int:
    client = _client(settings)
    try:
        return await work(client[settings.mongo.platform_db])
    except PyMongoError as exc:
        raise _Failure(f"MongoDB at {settings.mongo.uri} failed: {type(exc).__name__}") from exc
    finally:
        await client.close()


def _settings() -> tuple[Settings, KeyRing]:
    try:
        settings = load_settings()
        return settings, KeyRing.from_settings(settings.auth)
    except (ConfigError, KeyRingError) as exc:
        raise _Failure(str(exc), status=2) from exc


def _print_json(data: object) -> None:
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _iso(value: datetime | float | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, float | int):
        value = datetime.fromtimestamp(value, UTC)
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


async def _keyring(settings: Settings, configured: KeyRing) -> KeyRing:
    if not settings.auth.use_key_store:
        return configured
    holder: list[KeyRing] = []

    async def load(db: keystore.Database) -> int:
        holder.append(await keystore.load_keyring(db, configured))
        return 0

    await _with_db(settings, load)
    return holder[0]


async def _issue(args: argparse.Namespace) -> int:
    settings, configured = _settings()
    ttl = settings.auth.token_ttl_s if args.ttl is None else args.ttl
    if not 0 < ttl <= settings.auth.max_token_ttl_s:
        raise _Failure(
            f"--ttl must be 1..{settings.auth.max_token_ttl_s} s (auth.max_token_ttl_s): "
            "a retired key verifies only that long",
            status=2,
        )
    try:
        scopes = parse_scopes(args.scope)
        ring = await _keyring(settings, configured)
        token = issue(ring, args.tenant, scopes, ttl, args.subject)
    except KeyRingError as exc:
        raise _Failure(str(exc)) from exc
    except ValueError as exc:
        raise _Failure(str(exc), status=2) from exc
    if not args.json:
        print(token)
        return 0
    principal = Authenticator(ring, cache_size=0).verify(token)
    _print_json(
        {
            "token": token,
            "tenant": principal.tenant,
            "scope": format_scopes(principal.scopes),
            "kid": principal.kid,
            "subject": principal.subject,
            "token_id": principal.token_id,
            "expires_at": _iso(principal.expires_at),
        }
    )
    return 0


async def _rotate(args: argparse.Namespace) -> int:
    settings, _ = _settings()
    max_ttl = settings.auth.max_token_ttl_s

    async def work(db: keystore.Database) -> int:
        kid = await keystore.rotate(db, args.alg, max_ttl)
        print(kid)
        retired = [k for k in await keystore.list_keys(db) if k.kid != kid and k.not_after]
        for key in retired:
            print(f"{key.kid} retired, verifies until {_iso(key.not_after)}", file=sys.stderr)
        return 0

    return await _with_db(settings, work)


def _config_rows(configured: KeyRing) -> list[dict[str, Any]]:
    return [
        {
            "kid": k.kid,
            "alg": k.alg,
            "source": "config",
            "active": configured.active is k,
            "created_at": None,
            "not_after": _iso(k.not_after),
        }
        for k in configured
    ]


def _store_rows(stored: list[keystore.StoredKey]) -> list[dict[str, Any]]:
    return [
        {
            "kid": k.kid,
            "alg": k.alg,
            "source": "store",
            "active": k.active,
            "created_at": _iso(k.created_at),
            "not_after": _iso(k.not_after),
        }
        for k in stored
    ]


def _print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        _print_json(rows)
        return
    print(f"{'kid':<28} {'alg':<6} {'source':<6} {'active':<6} {'created_at':<24} not_after")
    for r in rows:
        active = "yes" if r["active"] else ""
        print(
            f"{r['kid']:<28} {r['alg']:<6} {r['source']:<6} {active:<6} "
            f"{r['created_at'] or '-':<24} {r['not_after'] or '-'}"
        )


async def _list(args: argparse.Namespace) -> int:
    settings, configured = _settings()
    rows = _config_rows(configured)
    if not settings.auth.use_key_store:
        _print_rows(rows, args.json)
        return 0

    async def work(db: keystore.Database) -> int:
        _print_rows(rows + _store_rows(await keystore.list_keys(db)), args.json)
        return 0

    return await _with_db(settings, work)


async def _purge(args: argparse.Namespace) -> int:
    settings, _ = _settings()

    async def work(db: keystore.Database) -> int:
        print(await keystore.purge_expired(db))
        return 0

    return await _with_db(settings, work)


async def _jwks(args: argparse.Namespace) -> int:
    settings, configured = _settings()
    ring = await _keyring(settings, configured)
    _print_json(ring.public_jwks())
    return 0


def _token_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ccx token", description="issue bearer tokens")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("issue", help="print a token signed by the active key")
    p.add_argument("--tenant", required=True, help="tenant id (the `tid` claim)")
    p.add_argument(
        "--scope",
        required=True,
        help=f'space- or comma-separated scopes, e.g. "messages:write messages:read" '
        f"(known: {' '.join(Scope)})",
    )
    p.add_argument("--ttl", type=int, help="lifetime in seconds (default: auth.token_ttl_s)")
    p.add_argument("--subject", help="the `sub` claim (who or what uses the token)")
    p.add_argument("--json", action="store_true", help="print token and claims as JSON")
    p.set_defaults(run=_issue)
    return parser


def _keys_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ccx keys", description="manage signing keys")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("rotate", help="new active signing key; old tokens stay valid")
    p.add_argument("--alg", choices=[HS256, EDDSA, RS256], default=HS256)
    p.set_defaults(run=_rotate)
    p = sub.add_parser("list", help="configured and stored keys (never their material)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_list)
    p = sub.add_parser("purge", help="delete stored keys past not_after")
    p.set_defaults(run=_purge)
    p = sub.add_parser("jwks", help="print the public JWKS of the EdDSA and RS256 keys")
    p.set_defaults(run=_jwks)
    return parser


def _run(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, int]] = args.run
    try:
        return asyncio.run(run(args))
    except _Failure as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return exc.status


def token_main(argv: list[str]) -> int:
    """`ccx token …` (argv without the word `token`)."""
    return _run(_token_parser(), argv)


def keys_main(argv: list[str]) -> int:
    """`ccx keys …` (argv without the word `keys`)."""
    return _run(_keys_parser(), argv)


def main(argv: list[str] | None = None) -> int:
    """`token …` or `keys …`, for wiring both under one delegated command."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "token":
        return token_main(argv[1:])
    if argv and argv[0] == "keys":
        return keys_main(argv[1:])
    print("usage: ccx token issue … | ccx keys rotate|list|purge|jwks", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
