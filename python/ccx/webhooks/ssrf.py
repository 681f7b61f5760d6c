"""SSRF guard for outbound client webhooks: which addresses an endpoint may reach.

Three checks, because aiohttp only asks the resolver about host names:

- `AddressPolicy.check_url` before each request refuses literal-IP hosts (aiohttp connects to
  those without calling the resolver), including the legacy numeric IPv4 spellings.
- `GuardedResolver` refuses a name if any address it resolves to is refused. The connector then
  connects to exactly those addresses (no second lookup, so no DNS-rebinding window).
- `guarded_connector` also checks every address at socket creation, which catches literal IPs
  that skip the first check (a followed redirect, a caller that forgot `check_url`).

Requests must not go through a proxy (`trust_env`/`proxy=`): the guard would only see the proxy.

When the guard refuses at connect time, aiohttp raises `aiohttp.ClientConnectorDNSError`
(resolver) or `aiohttp.ClientConnectorError` (socket), both `ClientConnectorError`s whose
`os_error` and `__cause__` are the `BlockedDestination`; `blocked_cause` finds it.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048

_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OCI, ...
        "169.254.170.2",  # AWS ECS task credentials
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer (a public address, reachable only inside Azure)
        "fd00:ec2::254",  # AWS IPv6
    )
)


def _table(*rows: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), why) for net, why in rows)


# First match wins.
_V4 = _table(
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmark"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)
_V6 = _table(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("fc00::/7", "private"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
    ("100::/64", "discard"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("2001:2::/48", "benchmark"),
    ("2001::/32", "teredo"),
    ("64:ff9b:1::/48", "private"),  # local-use NAT64 (RFC 8215)
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Characters of the numeric IPv4 spellings inet_aton accepts (2130706433, 0x7f000001, 0177.1).
_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")


class BlockedDestination(OSError):
    """A webhook destination refused by the guard; str() says which address and why."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host, self.address, self.reason = host, address, reason
        target = address if host == address else f"{host} ({address})"
        super().__init__(None, f"{target} is a refused destination: {reason}")

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.host, self.address, self.reason)


class AddressPolicy:
    """Refuses non-public addresses, except those inside the `allow` CIDRs."""

    def __init__(self, allow: Sequence[str] = ()) -> None:
        self.allow: tuple[IPNetwork, ...] = tuple(_network(text) for text in allow)

    @classmethod
    def from_setting(cls, text: str) -> AddressPolicy:
        """From comma-separated CIDRs (blanks ignored)."""
        return cls([part for part in (p.strip() for p in text.split(",")) if part])

    def reason(self, address: str | IPAddress) -> str | None:
        """None when `address` may be contacted, else why not. ValueError if not an address."""
        ip = _plain(ipaddress.ip_address(address) if isinstance(address, str) else address)
        if any(ip.version == net.version and ip in net for net in self.allow):
            return None
        if ip in _METADATA:
            return "metadata"
        if isinstance(ip, ipaddress.IPv6Address):
            embedded = _embedded(ip)
            if embedded is not None:
                why = self.reason(embedded)
                # NAT64 and IPv4-compatible forms reach the IPv4 host itself; a 6to4 or
                # Teredo address with a public IPv4 part is still judged as IPv6 below.
                if why is not None or ip in _NAT64 or ip in _V4_COMPATIBLE:
                    return why
        for net, why in _V4 if ip.version == 4 else _V6:
            if ip in net:
                return why
        # Conservative: whatever Python does not call global (or is an unallocated block).
        if not ip.is_global or ip.is_reserved:
            return "reserved"
        return None

    def check_url(self, url: str) -> None:
        """Refuse a malformed webhook URL (ValueError) or a refused literal IP host
        (BlockedDestination). Host names are checked at connect time instead."""
        if len(url) > MAX_URL_LENGTH:
            raise ValueError(f"URL is longer than {MAX_URL_LENGTH} characters")
        try:
            parsed = URL(url)
        except ValueError as exc:
            raise ValueError(f"invalid URL: {exc}") from None
        if parsed.scheme not in ("http", "https"):
            raise ValueError("URL scheme must be http or https")
        host = parsed.raw_host
        if not parsed.absolute or not host:
            raise ValueError("URL must be absolute and have a host")
        if parsed.raw_user is not None or parsed.raw_password is not None:
            raise ValueError("URL must not contain a user name or password")
        address = _literal(host)
        if address is not None:
            why = self.reason(address)
            if why is not None:
                raise BlockedDestination(host, str(address), why)

    def _refusal(self, address: str) -> str | None:
        """`reason`, refusing what does not parse as an address."""
        try:
            return self.reason(address)
        except ValueError:
            return "invalid address"


class GuardedResolver(AbstractResolver):
    """Resolves with `inner`, refusing the name if any of its addresses is refused."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner if inner is not None else aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        for result in results:
            why = self.policy._refusal(result["host"])
            if why is not None:
                raise BlockedDestination(host, result["host"], why)
        return results

    async def close(self) -> None:
        await self.inner.close()


def guarded_connector(policy: AddressPolicy, limit: int = 100) -> aiohttp.TCPConnector:
    """A connector that only connects to addresses `policy` allows (needs a running loop)."""

    def guarded_socket(addr_info: tuple[int, int, int, str, tuple[Any, ...]]) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        address = str(sockaddr[0])
        why = policy._refusal(address)
        if why is not None:
            raise BlockedDestination(address, address, why)
        return socket.socket(family, kind, proto)

    return aiohttp.TCPConnector(
        resolver=GuardedResolver(policy), limit=limit, socket_factory=guarded_socket
    )


def blocked_cause(exc: BaseException) -> BlockedDestination | None:
    """The BlockedDestination behind a failed request (via `os_error`, causes, contexts)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, BlockedDestination):
            return current
        pending += [getattr(current, "os_error", None), current.__cause__, current.__context__]
    return None


def _network(text: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text.strip())
    except ValueError as exc:
        raise ValueError(f"invalid CIDR {text!r}: {exc}") from None


def _plain(ip: IPAddress) -> IPAddress:
    """`ip` without an IPv6 zone id, and an IPv4-mapped IPv6 address as its IPv4 address."""
    if isinstance(ip, ipaddress.IPv6Address):
        return ip.ipv4_mapped or ipaddress.IPv6Address(int(ip))
    return ip


def _embedded(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that NAT64, IPv4-compatible, 6to4 and Teredo forms carry."""
    if ip in _NAT64 or (ip in _V4_COMPATIBLE and int(ip) > 1):  # not :: or ::1
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return ip.teredo[1] if ip.teredo is not None else None


def _literal(host: str) -> IPAddress | None:
    """The address a URL host spells literally, None for a host name."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise ValueError(f"invalid IPv6 address {host!r}") from None
    host = host.removesuffix(".")
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None
