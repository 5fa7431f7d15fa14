"""Egress policy for URLs the proxy fetches on an ad server's say-so: proxy/net/egress.py.

Unit tests for every range (IPv4, IPv6, IPv4 embedded in IPv6), schemes, credentials and names; then a real
aiohttp session through `egress_connector` against a local server: loopback refused by default and allowed with
`allow_loopback`, names that resolve to refused addresses (`localhost`, a resolver map), a redirect to the
metadata address, and the connect-time check that covers IP literals (aiohttp skips the resolver for them).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from proxy.net.egress import EgressConnector, EgressPolicy, EgressRefused, EgressResolver, egress_connector

DEFAULT = EgressPolicy()
PRIVATE = EgressPolicy(allow_private=True)
LOOPBACK = EgressPolicy(allow_loopback=True)
EVERYTHING = EgressPolicy(allow_private=True, allow_loopback=True)

# address, what the refusal says ("" = allowed by the default policy), allowed with allow_private, with allow_loopback
ADDRESSES = [
    # IPv4: always refused
    ("169.254.169.254", "cloud metadata", False, False),
    ("169.254.170.2", "link-local", False, False),  # AWS ECS task metadata
    ("169.254.0.1", "link-local", False, False),
    ("100.100.100.200", "Alibaba", False, False),  # inside 100.64/10, refused even when private is allowed
    ("0.0.0.0", "unspecified", False, False),
    ("0.1.2.3", "unspecified", False, False),
    ("224.0.0.1", "multicast", False, False),
    ("239.255.255.250", "multicast", False, False),
    ("255.255.255.255", "broadcast", False, False),
    ("240.0.0.1", "reserved", False, False),
    ("192.0.0.8", "reserved", False, False),
    ("192.0.2.1", "documentation", False, False),
    ("198.51.100.7", "documentation", False, False),
    ("203.0.113.9", "documentation", False, False),
    ("198.18.0.1", "benchmarking", False, False),
    ("192.88.99.1", "6to4 relay", False, False),
    # IPv4: private
    ("10.0.0.1", "private (10/8)", True, False),
    ("10.255.255.255", "private (10/8)", True, False),
    ("172.16.0.1", "private (172.16/12)", True, False),
    ("172.31.255.254", "private (172.16/12)", True, False),
    ("192.168.1.1", "private (192.168/16)", True, False),
    ("100.64.0.1", "carrier-grade NAT", True, False),
    ("100.127.255.254", "carrier-grade NAT", True, False),
    # IPv4: loopback
    ("127.0.0.1", "loopback", False, True),
    ("127.255.255.254", "loopback", False, True),
    # IPv4: public
    ("8.8.8.8", "", True, True),
    ("93.184.216.34", "", True, True),
    ("172.32.0.1", "", True, True),  # just outside 172.16/12
    ("100.128.0.1", "", True, True),  # just outside 100.64/10
    ("169.253.255.255", "", True, True),
    ("1.1.1.1", "", True, True),
    # IPv6: always refused
    ("fd00:ec2::254", "AWS IPv6", False, False),  # inside fc00::/7, refused even when private is allowed
    ("::", "unspecified", False, False),
    ("fe80::1", "link-local", False, False),
    ("fe80::1%eth0", "link-local", False, False),
    ("febf::1", "link-local", False, False),
    ("fec0::1", "site-local", False, False),
    ("ff02::1", "multicast", False, False),
    ("ff05::2", "multicast", False, False),
    ("100::1", "discard-only", False, False),
    ("2001:db8::1", "documentation", False, False),
    ("3fff::1", "documentation", False, False),
    ("2001::1", "IETF protocol assignments", False, False),  # Teredo
    ("4000::1", "outside 2000::/3", False, False),
    ("::2", "unspecified", False, False),  # IPv4-compatible 0.0.0.2
    # IPv6: private and loopback
    ("fc00::1", "unique local", True, False),
    ("fd12:3456:789a::1", "unique local", True, False),
    ("::1", "loopback", False, True),
    # IPv6: public
    ("2606:4700:4700::1111", "", True, True),
    ("2001:4860:4860::8888", "", True, True),
    ("2a00:1450:4001:81c::200e", "", True, True),
    # IPv4 embedded in IPv6: checked as the IPv4 address
    ("::ffff:169.254.169.254", "cloud metadata", False, False),
    ("::ffff:a9fe:a9fe", "cloud metadata", False, False),
    ("::ffff:100.100.100.200", "Alibaba", False, False),
    ("::ffff:127.0.0.1", "loopback", False, True),
    ("::ffff:10.1.2.3", "private (10/8)", True, False),
    ("::ffff:0.0.0.0", "unspecified", False, False),
    ("::ffff:8.8.8.8", "", True, True),
    ("::127.0.0.1", "loopback", False, True),  # IPv4-compatible (deprecated)
    ("::169.254.169.254", "cloud metadata", False, False),
    ("64:ff9b::a9fe:a9fe", "cloud metadata", False, False),  # NAT64
    ("64:ff9b::7f00:1", "loopback", False, True),
    ("64:ff9b:1::a00:1", "private (10/8)", True, False),  # local-use NAT64
    ("64:ff9b::808:808", "", True, True),
    ("2002:a9fe:a9fe::1", "cloud metadata", False, False),  # 6to4
    ("2002:c0a8:101::1", "private (192.168/16)", True, False),
    ("2002:808:808::1", "", True, True),
]


@pytest.mark.parametrize(("ip", "reason", "private_ok", "loopback_ok"), ADDRESSES, ids=[row[0] for row in ADDRESSES])
def test_check_address(ip: str, reason: str, private_ok: bool, loopback_ok: bool) -> None:
    if reason:
        with pytest.raises(EgressRefused) as refused:
            DEFAULT.check_address(ip)
        assert reason in refused.value.message
        assert f"egress to {ip!r} refused" in refused.value.message
        assert "expected a public unicast address" in refused.value.message
        assert refused.value.status_code == 403
    else:
        DEFAULT.check_address(ip)
    assert (PRIVATE.refusal(ip) is None) == private_ok
    assert (LOOPBACK.refusal(ip) is None) == loopback_ok
    never = reason and not private_ok and not loopback_ok
    assert (EVERYTHING.refusal(ip) is not None) == bool(never)


def test_a_refusal_is_a_proxy_error_and_an_os_error() -> None:
    with pytest.raises(OSError) as refused:
        DEFAULT.check_address("169.254.169.254")
    assert isinstance(refused.value, EgressRefused)
    assert refused.value.errno == 13


def test_not_an_address() -> None:
    assert DEFAULT.refusal("ads.example.com") == "not an IP address"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///etc/passwd", "scheme 'file', expected http or https"),
        ("ftp://ads.example.com/vast.xml", "scheme 'ftp'"),
        ("gopher://127.0.0.1:6379/_INFO", "scheme 'gopher'"),
        ("javascript:alert(1)", "scheme 'javascript'"),
        ("data:text/xml,<VAST/>", "scheme 'data'"),
        ("dict://127.0.0.1:11211/stats", "scheme 'dict'"),
        ("//ads.example.com/vast.xml", "scheme ''"),
        ("ads.example.com/vast.xml", "scheme ''"),
        ("http://user:secret@ads.example.com/vast.xml", "credentials in the URL are not allowed"),
        ("https://user@ads.example.com/", "credentials"),
        ("http:///vast.xml", "no host"),
        ("http://ads.example.com:99999/", "not a valid URL"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata address (AWS IPv6)"),
        ("http://100.100.100.200/latest/meta-data/", "Alibaba"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata service name"),
        ("http://METADATA.google.INTERNAL./computeMetadata/v1/", "cloud metadata service name"),
        ("http://metadata/computeMetadata/v1/", "cloud metadata service name"),
        ("http://127.0.0.1:8080/admin", "loopback (allow_loopback is off)"),
        ("http://[::1]:8080/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[fe80::1%25eth0]/", "link-local"),
        ("http://localhost:8080/", "loopback name"),
        ("http://ads.localhost/", "loopback name"),
        ("http://10.0.0.5/vast.xml", "private (10/8) (allow_private is off)"),
        ("http://192.168.0.1/", "private (192.168/16)"),
        ("http://2130706433/", "(= 127.0.0.1) is loopback"),  # legacy numeric forms getaddrinfo accepts
        ("http://0x7f.1/", "(= 127.0.0.1) is loopback"),
        ("http://127.1/", "(= 127.0.0.1) is loopback"),
        ("http://0177.0.0.1/", "(= 127.0.0.1) is loopback"),
        ("http://0xa9fea9fe/", "(= 169.254.169.254) is a cloud metadata"),
        ("http://0251.0376.0251.0376/", "(= 169.254.169.254)"),
        ("http://[::]/", "unspecified"),
        ("http://0.0.0.0:8080/", "unspecified"),
    ],
)
def test_check_url_refuses(url: str, expected: str) -> None:
    with pytest.raises(EgressRefused) as refused:
        DEFAULT.check_url(url)
    assert expected in refused.value.message
    assert "secret" not in refused.value.message  # credentials are not echoed


@pytest.mark.parametrize(
    "url",
    [
        "https://ads.example.com/vast.xml?ip=1.2.3.4&cb=[CACHEBUSTING]",
        "HTTP://Ads.Example.COM/vast",
        "https://cdn.example.com:8443/ad/master.m3u8",
        "http://8.8.8.8/x",
        "http://[2606:4700:4700::1111]/",
        "https://xn--bcher-kva.example/",
        "http://169.254.169.254.nip.io/",  # a name: its address is checked when it is resolved
    ],
)
def test_check_url_allows(url: str) -> None:
    DEFAULT.check_url(url)


def test_check_url_with_settings() -> None:
    LOOPBACK.check_url("http://127.0.0.1:8080/ads")
    LOOPBACK.check_url("http://localhost:8080/ads")
    PRIVATE.check_url("http://10.0.0.5/vast.xml")
    PRIVATE.check_url("http://[fd12::1]/vast.xml")
    with pytest.raises(EgressRefused, match="allow_private is off"):
        LOOPBACK.check_url("http://10.0.0.5/")
    with pytest.raises(EgressRefused, match="never allowed"):
        EVERYTHING.check_url("http://169.254.169.254/latest")
    with pytest.raises(EgressRefused, match="never allowed"):
        EVERYTHING.check_url("http://metadata.google.internal/")


# --- the resolver wrapper ---------------------------------------------------------------------------------------


class MapResolver(AbstractResolver):
    """Answers from a table, like a DNS server under the attacker's control."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"{host} does not resolve")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.table[host]
        ]

    async def close(self) -> None:
        self.closed = True


TABLE = {
    "metadata.test": ["169.254.169.254"],
    "internal.test": ["10.0.0.5", "fd12::5"],
    "mixed.test": ["10.0.0.5", "93.184.216.34", "169.254.169.254", "2606:4700:4700::1111"],
    "public.test": ["93.184.216.34"],
    "loopback.test": ["127.0.0.1"],
}


async def test_resolver_filters_refused_addresses() -> None:
    inner = MapResolver(TABLE)
    resolver = EgressResolver(DEFAULT, inner)
    assert [r["host"] for r in await resolver.resolve("public.test", 80)] == ["93.184.216.34"]
    assert [r["host"] for r in await resolver.resolve("mixed.test", 80)] == ["93.184.216.34", "2606:4700:4700::1111"]
    with pytest.raises(EgressRefused, match=r"'metadata.test' refused: it resolves to 169\.254\.169\.254 \(a cloud"):
        await resolver.resolve("metadata.test", 80)
    with pytest.raises(EgressRefused, match="10.0.0.5 .*private.*; fd12::5 .*unique local"):
        await resolver.resolve("internal.test", 80)
    private = EgressResolver(PRIVATE, inner)
    assert [r["host"] for r in await private.resolve("internal.test", 80)] == ["10.0.0.5", "fd12::5"]
    await resolver.close()
    assert inner.closed


async def test_resolver_refuses_metadata_names_without_asking_dns() -> None:
    inner = MapResolver({"metadata.google.internal": ["93.184.216.34"], "localhost": ["93.184.216.34"]})
    resolver = EgressResolver(DEFAULT, inner)
    with pytest.raises(EgressRefused, match="cloud metadata service name"):
        await resolver.resolve("metadata.google.internal", 80)
    with pytest.raises(EgressRefused, match="loopback name"):
        await resolver.resolve("localhost", 80)
    assert inner.asked == []


async def test_the_connect_time_check_sees_every_address() -> None:
    connector = EgressConnector(DEFAULT, resolver=MapResolver(TABLE))
    try:
        with pytest.raises(EgressRefused, match="cloud metadata"):
            connector._checked_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80)))
        with pytest.raises(EgressRefused, match="loopback"):
            connector._checked_socket((socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", 80, 0, 0)))
        sock = connector._checked_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)))
        sock.close()
    finally:
        await connector.close()


def test_socket_factory_cannot_be_replaced() -> None:
    with pytest.raises(TypeError, match="socket_factory"):
        EgressConnector(DEFAULT, socket_factory=lambda addr_info: socket.socket())


# --- a real aiohttp session against a local server --------------------------------------------------------------


class LocalServer:
    def __init__(self) -> None:
        self.hits = 0
        self.port = 0
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def ok(request: web.Request) -> web.Response:
            self.hits += 1
            return web.Response(text="<VAST/>", content_type="text/xml")

        async def to_metadata(request: web.Request) -> web.Response:
            self.hits += 1
            raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

        app = web.Application()
        app.router.add_get("/vast.xml", ok)
        app.router.add_get("/redirect", to_metadata)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listening.bind(("127.0.0.1", 0))
        self.port = listening.getsockname()[1]
        await web.SockSite(self.runner, listening).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    local = LocalServer()
    await local.start()
    yield local
    await local.stop()


def session(policy: EgressPolicy, resolver: AbstractResolver | None = None) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=egress_connector(policy, resolver=resolver), trust_env=False)


async def fetch(policy: EgressPolicy, url: str, resolver: AbstractResolver | None = None) -> str:
    async with session(policy, resolver) as client, client.get(url) as response:
        response.raise_for_status()
        return await response.text()


async def test_loopback_is_refused_by_default(server: LocalServer) -> None:
    with pytest.raises(aiohttp.ClientConnectorError) as refused:
        await fetch(DEFAULT, f"http://127.0.0.1:{server.port}/vast.xml")
    assert isinstance(refused.value.os_error, EgressRefused)
    assert "egress to '127.0.0.1' refused: loopback" in str(refused.value)
    assert server.hits == 0


async def test_loopback_is_allowed_with_allow_loopback(server: LocalServer) -> None:
    assert await fetch(LOOPBACK, f"http://127.0.0.1:{server.port}/vast.xml") == "<VAST/>"
    assert server.hits == 1


async def test_localhost_is_refused_by_default_and_allowed_with_allow_loopback(server: LocalServer) -> None:
    with pytest.raises(aiohttp.ClientConnectorError) as refused:
        await fetch(DEFAULT, f"http://localhost:{server.port}/vast.xml")
    assert isinstance(refused.value.os_error, EgressRefused)
    assert server.hits == 0
    assert await fetch(LOOPBACK, f"http://localhost:{server.port}/vast.xml") == "<VAST/>"


async def test_a_name_resolving_to_a_refused_address_is_refused(server: LocalServer) -> None:
    """A DNS answer under the attacker's control (rebinding): the address is checked after resolution."""
    resolver = MapResolver({"ads.test": ["127.0.0.1"]})
    with pytest.raises(aiohttp.ClientConnectorError) as refused:
        await fetch(DEFAULT, f"http://ads.test:{server.port}/vast.xml", resolver)
    assert isinstance(refused.value.os_error, EgressRefused)
    assert "it resolves to 127.0.0.1 (loopback" in str(refused.value)
    assert resolver.asked == ["ads.test"] and resolver.closed
    assert server.hits == 0
    allowed = MapResolver({"ads.test": ["127.0.0.1"]})
    assert await fetch(LOOPBACK, f"http://ads.test:{server.port}/vast.xml", allowed) == "<VAST/>"
    assert server.hits == 1


async def test_a_redirect_to_the_metadata_address_is_refused(server: LocalServer) -> None:
    with pytest.raises(aiohttp.ClientConnectorError) as refused:
        await fetch(LOOPBACK, f"http://127.0.0.1:{server.port}/redirect")
    assert isinstance(refused.value.os_error, EgressRefused)
    assert "169.254.169.254" in str(refused.value) and "cloud metadata" in str(refused.value)
    assert server.hits == 1


async def test_never_allowed_literals_are_refused_at_connect_time_whatever_the_settings() -> None:
    with pytest.raises(aiohttp.ClientConnectorError) as refused:
        await fetch(EVERYTHING, "http://[fd00:ec2::254]/latest/meta-data/")
    assert isinstance(refused.value.os_error, EgressRefused)
    with pytest.raises(aiohttp.ClientConnectorError, match="link-local"):
        await fetch(EVERYTHING, "http://169.254.10.10/")
