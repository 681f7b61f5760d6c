"""The webhook SSRF guard: address policy, URL checks, and the guarded aiohttp connector."""

from __future__ import annotations

import ipaddress
import pickle
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from ccx.webhooks.ssrf import (
    AddressPolicy,
    BlockedDestination,
    GuardedResolver,
    blocked_cause,
    guarded_connector,
)

REFUSED = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "shared"),
    ("100.127.255.254", "shared"),
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("169.254.1.1", "link-local"),
    ("172.16.0.1", "private"),
    ("172.31.255.1", "private"),
    ("192.0.0.9", "reserved"),
    ("192.0.0.170", "reserved"),
    ("192.0.2.10", "documentation"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmark"),
    ("198.19.255.1", "benchmark"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.7", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.254", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("100.100.100.200", "metadata"),
    ("168.63.129.16", "metadata"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("fd00:ec2::254", "metadata"),
    ("fe80::1", "link-local"),
    ("febf::1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("100::1", "discard"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("2001:2::1", "benchmark"),
    ("64:ff9b:1::1", "private"),
    ("5f00::1", "reserved"),
    ("4000::1", "reserved"),
    ("2001:10::1", "reserved"),  # ORCHIDv1: not global for Python
]
EMBEDDED = [
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.1.2.3", "private"),
    ("::ffff:169.254.169.254", "metadata"),
    ("::ffff:7f00:1", "loopback"),
    ("::10.1.2.3", "private"),
    ("::127.0.0.1", "loopback"),
    ("64:ff9b::10.1.2.3", "private"),
    ("64:ff9b::127.0.0.1", "loopback"),
    ("64:ff9b::a9fe:a9fe", "metadata"),
    ("2002:0a01:0203::1", "private"),
    ("2002:7f00:0001::", "loopback"),
    ("2002:c0a8:0101:1::5", "private"),
    # Teredo, client 192.168.1.1 stored inverted (0x3f57fefe)
    ("2001:0:4136:e378:8000:63bf:3f57:fefe", "private"),
]
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "100.63.255.255",  # just below 100.64/10
    "100.128.0.0",  # just above
    "172.15.255.255",
    "172.32.0.0",
    "192.0.3.1",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
]


@pytest.mark.parametrize(("address", "reason"), REFUSED + EMBEDDED)
def test_refused_addresses_and_why(address: str, reason: str) -> None:
    policy = AddressPolicy()
    assert policy.reason(address) == reason
    assert policy.reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().reason(address) is None


def test_zone_ids_are_judged_without_the_zone() -> None:
    assert AddressPolicy().reason("fe80::1%eth0") == "link-local"
    assert AddressPolicy(["fe80::/10"]).reason("fe80::1%eth0") is None


def test_allow_list_permits_loopback_whatever_it_is() -> None:
    policy = AddressPolicy(["127.0.0.0/8", "::1"])
    for address in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"]:
        assert policy.reason(address) is None, address
    assert policy.reason("10.0.0.1") == "private"
    assert policy.reason("::2") == "unspecified"
    assert AddressPolicy(["169.254.169.254"]).reason("169.254.169.254") is None
    assert AddressPolicy(["169.254.169.254"]).reason("169.254.169.253") == "link-local"


def test_from_setting_splits_commas_and_ignores_blanks() -> None:
    policy = AddressPolicy.from_setting(" 10.0.0.0/8 , ,fd00::/8,")
    assert policy.reason("10.2.3.4") is None
    assert policy.reason("fd00::5") is None
    assert policy.reason("192.168.0.1") == "private"
    assert AddressPolicy.from_setting("").allow == ()
    assert AddressPolicy.from_setting(" , ").reason("127.0.0.1") == "loopback"


@pytest.mark.parametrize("cidr", ["10.0.0.0/33", "not-a-net", "10.1.2.3/8", "::1/129", ""])
def test_bad_cidr_is_a_value_error(cidr: str) -> None:
    with pytest.raises(ValueError, match="invalid CIDR"):
        AddressPolicy([cidr])
    with pytest.raises(ValueError, match="invalid CIDR"):
        AddressPolicy.from_setting(f"127.0.0.0/8,{cidr or '999.1.1.1'}")


def test_reason_of_something_not_an_address_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="does not appear to be"):
        AddressPolicy().reason("example.com")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("/relative/path", "http or https"),
        ("http:///no-host", "absolute"),
        ("http:example.com", "absolute"),
        ("https://user:secret@example.com/", "user name or password"),
        ("https://user@example.com/", "user name or password"),
        ("https://:secret@example.com/", "user name or password"),
        ("https://example.com/" + "a" * 2030, "longer than 2048"),
        ("https://example.com:99999/", "invalid URL"),
        ("http://[::1/", "invalid URL"),
        ("http://[zz::1]/", "invalid IPv6"),
    ],
)
def test_check_url_rejects_malformed_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AddressPolicy().check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hooks?a=1",
        "http://8.8.8.8:8080/x",
        "https://[2606:4700:4700::1111]/",
        "HTTPS://Example.COM",
        "https://localhost/",  # names are judged at connect time
        "https://cafe.example/",
        "https://example.com/" + "a" * 2028,  # exactly 2048
    ],
)
def test_check_url_accepts_public_and_named_hosts(url: str) -> None:
    AddressPolicy().check_url(url)


@pytest.mark.parametrize(
    ("url", "address", "reason"),
    [
        ("http://127.0.0.1/", "127.0.0.1", "loopback"),
        ("http://127.0.0.1./", "127.0.0.1", "loopback"),
        ("http://2130706433/", "127.0.0.1", "loopback"),
        ("http://0x7f000001/", "127.0.0.1", "loopback"),
        ("http://0X7F000001/", "127.0.0.1", "loopback"),
        ("http://0177.0.0.1/", "127.0.0.1", "loopback"),
        ("http://127.1/", "127.0.0.1", "loopback"),
        ("http://0x7f.1/", "127.0.0.1", "loopback"),
        ("http://017700000001/", "127.0.0.1", "loopback"),
        ("http://１２７.０.０.１/", "127.0.0.1", "loopback"),
        ("http://0/", "0.0.0.0", "unspecified"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "metadata"),
        ("http://[::1]:8080/", "::1", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1", "loopback"),
        ("http://[fe80::1%25eth0]/", "fe80::1", "link-local"),
        ("http://[fe80::1%eth0]/", "fe80::1", "link-local"),
        ("https://[fd00:ec2::254]/", "fd00:ec2::254", "metadata"),
    ],
)
def test_check_url_refuses_literal_addresses(url: str, address: str, reason: str) -> None:
    with pytest.raises(BlockedDestination) as caught:
        AddressPolicy().check_url(url)
    assert str(ipaddress.ip_address(caught.value.address)) == address
    assert caught.value.reason == reason
    assert reason in str(caught.value)


def test_check_url_allows_literal_addresses_in_the_allow_list() -> None:
    policy = AddressPolicy(["127.0.0.0/8", "::1/128"])
    for url in ["http://127.0.0.1:8000/", "http://0x7f000001/", "http://[::1]/"]:
        policy.check_url(url)
    with pytest.raises(BlockedDestination):
        policy.check_url("http://10.0.0.1/")


def test_blocked_destination_carries_host_address_and_reason() -> None:
    exc = BlockedDestination("internal.example", "10.0.0.5", "private")
    assert isinstance(exc, OSError)
    assert (exc.host, exc.address, exc.reason) == ("internal.example", "10.0.0.5", "private")
    assert str(exc) == "internal.example (10.0.0.5) is a refused destination: private"
    assert str(BlockedDestination("::1", "::1", "loopback")) == (
        "::1 is a refused destination: loopback"
    )
    copy = pickle.loads(pickle.dumps(exc))
    assert (copy.host, copy.address, copy.reason, str(copy)) == (
        exc.host,
        exc.address,
        exc.reason,
        str(exc),
    )


def test_blocked_cause_walks_os_error_causes_and_contexts() -> None:
    blocked = BlockedDestination("a", "10.0.0.1", "private")
    key = aiohttp.client_reqrep.ConnectionKey("a", 80, False, True, None, None, None)
    assert blocked_cause(blocked) is blocked
    assert blocked_cause(aiohttp.ClientConnectorDNSError(key, blocked)) is blocked
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = blocked
    assert blocked_cause(wrapped) is blocked
    hidden = KeyError("raised while handling, `from None`")
    hidden.__context__, hidden.__suppress_context__ = blocked, True
    assert blocked_cause(hidden) is blocked
    plain = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))
    assert blocked_cause(plain) is None
    looped = ValueError("loop")
    looped.__context__ = RuntimeError("back")
    looped.__context__.__context__ = looped
    assert blocked_cause(looped) is None


class FakeResolver(AbstractResolver):
    def __init__(self, *hosts: str) -> None:
        self.hosts = hosts
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.hosts
        ]

    async def close(self) -> None:
        self.closed = True


async def test_resolver_returns_addresses_that_are_all_public() -> None:
    resolver = GuardedResolver(AddressPolicy(), FakeResolver("93.184.215.14", "2606:2800::1"))
    results = await resolver.resolve("example.com", 443, socket.AF_UNSPEC)
    assert [r["host"] for r in results] == ["93.184.215.14", "2606:2800::1"]


@pytest.mark.parametrize(
    ("hosts", "address", "reason"),
    [
        (("93.184.215.14", "10.0.0.1"), "10.0.0.1", "private"),
        (("169.254.169.254",), "169.254.169.254", "metadata"),
        (("2606:2800::1", "fe80::1%eth0"), "fe80::1%eth0", "link-local"),
        (("93.184.215.14", "not-an-ip"), "not-an-ip", "invalid address"),
    ],
)
async def test_resolver_refuses_a_name_with_any_refused_address(
    hosts: tuple[str, ...], address: str, reason: str
) -> None:
    resolver = GuardedResolver(AddressPolicy(), FakeResolver(*hosts))
    with pytest.raises(BlockedDestination) as caught:
        await resolver.resolve("rebind.example", 80)
    assert (caught.value.host, caught.value.address, caught.value.reason) == (
        "rebind.example",
        address,
        reason,
    )


async def test_resolver_close_closes_inner_and_defaults_to_threaded() -> None:
    inner = FakeResolver()
    await GuardedResolver(AddressPolicy(), inner).close()
    assert inner.closed
    assert isinstance(GuardedResolver(AddressPolicy()).inner, aiohttp.ThreadedResolver)


@pytest.fixture
async def loopback_port() -> AsyncIterator[int]:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def test_connector_refuses_a_name_resolving_to_loopback(loopback_port: int) -> None:
    connector = guarded_connector(AddressPolicy())
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(aiohttp.ClientConnectorDNSError) as caught:
            await session.get(f"http://localhost:{loopback_port}/")
    blocked = blocked_cause(caught.value)
    assert blocked is not None
    assert blocked.host == "localhost"
    assert blocked.reason == "loopback"


async def test_connector_refuses_a_literal_address_at_connect_time(loopback_port: int) -> None:
    # as if a caller skipped check_url (or followed a redirect): the socket factory refuses
    async with aiohttp.ClientSession(connector=guarded_connector(AddressPolicy())) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.get(f"http://127.0.0.1:{loopback_port}/")
    blocked = blocked_cause(caught.value)
    assert blocked is not None
    assert (blocked.address, blocked.reason) == ("127.0.0.1", "loopback")


async def test_connector_reaches_loopback_when_allowed(loopback_port: int) -> None:
    policy = AddressPolicy(["127.0.0.0/8", "::1/128"])
    async with aiohttp.ClientSession(connector=guarded_connector(policy, limit=3)) as session:
        assert session.connector is not None
        assert session.connector.limit == 3
        for host in ["localhost", "127.0.0.1"]:
            async with session.get(f"http://{host}:{loopback_port}/") as response:
                assert response.status == 200
                assert await response.text() == "hello"
