"""Egress policy for every URL the proxy fetches: channel origins, slates, and what ad servers point at.

An ad response is untrusted input: a `VASTAdTagURI`, a `MediaFile` or a beacon URL can point at the
cloud metadata service, at the proxy's own admin ports or at anything on the private network (SSRF). So is a
channel's origin, written through the control API by any key holder. `proxy.net.origin.new_session` is the one
session every fetch goes through.
Rules (OWASP SSRF Prevention Cheat Sheet):

- only `http` and `https`, and no credentials in the URL;
- refused always: link-local (169.254/16, fe80::/10), cloud metadata (169.254.169.254, fd00:ec2::254,
  100.100.100.200, `metadata.google.internal`), unspecified, multicast, broadcast, documentation,
  benchmarking and other reserved ranges; the same for IPv4 embedded in IPv6 (mapped `::ffff:a.b.c.d`,
  compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`);
- private ranges (10/8, 172.16/12, 192.168/16, 100.64/10 CGNAT, fc00::/7) refused unless `allow_private`;
- loopback (127/8, ::1, `localhost`) refused unless `allow_loopback` (the demo allows it).

What was chosen for aiohttp (`egress_connector`), so that DNS rebinding cannot get around the check:

1. `EgressResolver` wraps the connector's resolver: names are checked before resolution and every
   resolved address is filtered through `check_address`; refused addresses are dropped, and when none is
   left the resolver raises `EgressRefused` (an `OSError`, so aiohttp reports `ClientConnectorDNSError`).
2. The connector's `socket_factory`, called by aiohappyeyeballs for every connection attempt with the exact
   address about to be connected, checks that address again. This is the choke point: aiohttp does not call
   the resolver for IP-literal hosts, and it sees the address actually used, whatever the DNS answered
   earlier (a rebinding answer never reaches a socket unchecked). It needs aiohttp >= 3.12 (an older one
   fails loudly: TypeError on `socket_factory`).

The check is done on the address the socket connects to, so a session using this connector must not go
through an HTTP proxy (`trust_env=False`, no `proxy=`): through a proxy, the address checked would be
the proxy's. `check_url` is the cheap early check for callers (scheme, credentials, literal addresses,
forbidden names) before a request is even queued.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
from typing import Any

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from proxy.errors import ProxyError

__all__ = ["EgressConnector", "EgressPolicy", "EgressRefused", "EgressResolver", "egress_connector"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Names of cloud metadata services: refused before any DNS lookup (the addresses they resolve to are
# refused as well). GCE: metadata.google.internal / metadata.goog / bare "metadata" (search domain);
# AWS: instance-data(.ec2.internal).
METADATA_NAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)


# Explicit tables rather than ipaddress's is_private/is_global, whose definitions changed between
# Python patch releases (3.11.10, 3.12.4). Order matters: the first matching row names the reason.
_V4_ALWAYS = (
    (ipaddress.ip_network("169.254.169.254/32"), "a cloud metadata address (AWS, GCP, Azure, OpenStack)"),
    (ipaddress.ip_network("100.100.100.200/32"), "a cloud metadata address (Alibaba Cloud)"),
    (ipaddress.ip_network("169.254.0.0/16"), "link-local"),
    (ipaddress.ip_network("0.0.0.0/8"), "unspecified ('this network')"),
    (ipaddress.ip_network("224.0.0.0/4"), "multicast"),
    (ipaddress.ip_network("255.255.255.255/32"), "broadcast"),
    (ipaddress.ip_network("240.0.0.0/4"), "reserved (240/4)"),
    (ipaddress.ip_network("192.0.0.0/24"), "reserved (IETF protocol assignments)"),
    (ipaddress.ip_network("192.0.2.0/24"), "reserved (documentation)"),
    (ipaddress.ip_network("198.51.100.0/24"), "reserved (documentation)"),
    (ipaddress.ip_network("203.0.113.0/24"), "reserved (documentation)"),
    (ipaddress.ip_network("198.18.0.0/15"), "reserved (benchmarking)"),
    (ipaddress.ip_network("192.88.99.0/24"), "reserved (6to4 relay anycast)"),
)
_V4_PRIVATE = (
    (ipaddress.ip_network("10.0.0.0/8"), "private (10/8)"),
    (ipaddress.ip_network("172.16.0.0/12"), "private (172.16/12)"),
    (ipaddress.ip_network("192.168.0.0/16"), "private (192.168/16)"),
    (ipaddress.ip_network("100.64.0.0/10"), "private (100.64/10 carrier-grade NAT)"),
)
_V4_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")

_V6_ALWAYS = (
    (ipaddress.ip_network("fd00:ec2::254/128"), "a cloud metadata address (AWS IPv6)"),
    (ipaddress.ip_network("::/128"), "unspecified"),
    (ipaddress.ip_network("fe80::/10"), "link-local"),
    (ipaddress.ip_network("fec0::/10"), "site-local (deprecated)"),
    (ipaddress.ip_network("ff00::/8"), "multicast"),
    (ipaddress.ip_network("100::/64"), "reserved (discard-only)"),
    (ipaddress.ip_network("2001:db8::/32"), "reserved (documentation)"),
    (ipaddress.ip_network("3fff::/20"), "reserved (documentation)"),
    (ipaddress.ip_network("2001::/23"), "reserved (IETF protocol assignments)"),
)
_V6_PRIVATE = ipaddress.ip_network("fc00::/7")
_V6_LOOPBACK = ipaddress.ip_network("::1/128")
_V6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
# IPv6 prefixes that carry an IPv4 address the packet ends up at: checked as that IPv4 address.
_V6_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_V6_COMPATIBLE = ipaddress.ip_network("::/96")
_V6_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_V6_6TO4 = ipaddress.ip_network("2002::/16")

# Legacy numeric IPv4 spellings that inet_aton (hence getaddrinfo) accepts: 2130706433, 0x7f.1, 127.1, 0177.0.0.1.
_LEGACY_V4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$", re.IGNORECASE)


class EgressRefused(ProxyError, OSError):
    """A fetch refused by the egress policy.

    A `ProxyError` (403) for callers of `check_url`, and an `OSError` (EACCES) so that aiohttp, when the
    refusal happens inside its connector, reports it as a connection error (`ClientConnectorError`).
    """

    status_code = 403

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.errno = errno.EACCES
        self.strerror = message


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in _V6_MAPPED:
        return address.ipv4_mapped
    if address in _V6_6TO4:
        return address.sixtofour
    if any(address in net for net in _V6_NAT64) or (address in _V6_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse_address(text: str) -> IPAddress | None:
    """An IP address written in `text` (IPv4, IPv6 with or without brackets/zone, legacy IPv4 forms), or None."""
    candidate = text.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    candidate = candidate.split("%", 1)[0]  # IPv6 zone index: fe80::1%eth0
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        pass
    if _LEGACY_V4.match(candidate):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(candidate))
        except OSError:
            return None
    return None


class EgressPolicy:
    """Which destinations the proxy may fetch."""

    def __init__(self, allow_private: bool = False, allow_loopback: bool = False) -> None:
        self.allow_private = allow_private
        self.allow_loopback = allow_loopback

    def __repr__(self) -> str:
        return f"EgressPolicy(allow_private={self.allow_private}, allow_loopback={self.allow_loopback})"

    def refusal(self, ip: str | IPAddress) -> str | None:
        """Why connecting to `ip` is refused, or None when it is allowed."""
        address = ip if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address) else parse_address(ip)
        if address is None:
            return "not an IP address"
        if isinstance(address, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(address)
            if embedded is not None:
                inner = self.refusal(embedded)
                return None if inner is None else f"{inner}, embedded as {embedded} in an IPv6 address"
            return self._refusal_v6(address)
        return self._refusal_v4(address)

    def _refusal_v4(self, address: ipaddress.IPv4Address) -> str | None:
        for net, reason in _V4_ALWAYS:
            if address in net:
                return f"{reason} (never allowed)"
        if address in _V4_LOOPBACK:
            return None if self.allow_loopback else "loopback (allow_loopback is off)"
        for net, reason in _V4_PRIVATE:
            if address in net:
                return None if self.allow_private else f"{reason} (allow_private is off)"
        return None

    def _refusal_v6(self, address: ipaddress.IPv6Address) -> str | None:
        for net, reason in _V6_ALWAYS:
            if address in net:
                return f"{reason} (never allowed)"
        if address in _V6_LOOPBACK:
            return None if self.allow_loopback else "loopback (allow_loopback is off)"
        if address in _V6_PRIVATE:
            return None if self.allow_private else "private (fc00::/7 unique local, allow_private is off)"
        if address not in _V6_GLOBAL_UNICAST:
            return "reserved (outside 2000::/3 global unicast; never allowed)"
        return None

    def check_address(self, ip: str) -> None:
        """Raise `EgressRefused` unless the proxy may connect to the (resolved) address `ip`."""
        reason = self.refusal(ip)
        if reason is not None:
            raise EgressRefused(f"egress to {ip!r} refused: {reason}; expected a public unicast address")

    def host_refusal(self, host: str) -> str | None:
        """Why `host` (a name or a literal address, as in a URL) is refused before any DNS lookup, or None.
        Names that pass are checked again on every address they resolve to."""
        name = host.strip().rstrip(".").lower()
        address = parse_address(name)
        if address is not None:
            reason = self.refusal(address)
            shown = f"host {host!r}" if str(address) == name.strip("[]") else f"host {host!r} (= {address})"
            return None if reason is None else f"{shown} is {reason}; expected a public unicast address"
        if name in METADATA_NAMES:
            return f"host {host!r} is a cloud metadata service name (never allowed)"
        if (name == "localhost" or name.endswith(".localhost")) and not self.allow_loopback:
            return f"host {host!r} is a loopback name (allow_loopback is off)"
        return None

    def check_host(self, host: str) -> None:
        """Raise `EgressRefused` when `host_refusal` has a reason."""
        reason = self.host_refusal(host)
        if reason is not None:
            raise EgressRefused(f"egress refused: {reason}")

    def check_url(self, url: str) -> None:
        """Raise `EgressRefused` unless `url` is an http(s) URL without credentials whose host is not refused."""
        shown = url[:200]
        try:
            parsed = URL(url)
            port = parsed.port
        except (ValueError, TypeError) as exc:
            raise EgressRefused(f"egress to {shown!r} refused: not a valid URL ({exc})") from exc
        scheme = parsed.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise EgressRefused(f"egress to {shown!r} refused: scheme {scheme!r}, expected http or https")
        if parsed.raw_user is not None or parsed.raw_password is not None:
            raise EgressRefused(f"egress to {_redacted(parsed)!r} refused: credentials in the URL are not allowed")
        host = parsed.raw_host
        if not host:
            raise EgressRefused(f"egress to {shown!r} refused: no host, expected an absolute http(s) URL")
        if port is None or not 0 < port < 65536:
            raise EgressRefused(f"egress to {shown!r} refused: port {port!r}, expected 1-65535")
        reason = self.host_refusal(host)
        if reason is not None:
            raise EgressRefused(f"egress to {shown!r} refused: {reason}")


def _redacted(url: URL) -> str:
    return str(url.with_user(None).with_password(None))


class EgressResolver(AbstractResolver):
    """Wraps a resolver (aiohttp's default when None) and takes ownership of it (`close` closes it):
    refused names never get resolved, refused addresses are dropped from the answers, and a name with
    only refused addresses raises `EgressRefused`."""

    def __init__(self, policy: EgressPolicy, resolver: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._resolver = resolver if resolver is not None else aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.policy.check_host(host)
        results = await self._resolver.resolve(host, port, family)
        allowed: list[ResolveResult] = []
        refused: list[str] = []
        for result in results:
            reason = self.policy.refusal(result["host"])
            if reason is None:
                allowed.append(result)
            else:
                refused.append(f"{result['host']} ({reason})")
        if not allowed:
            detail = "; ".join(refused) if refused else "no address"
            raise EgressRefused(f"egress to host {host!r} refused: it resolves to {detail}")
        return allowed

    async def close(self) -> None:
        await self._resolver.close()


class EgressConnector(aiohttp.TCPConnector):
    """A `TCPConnector` that only connects where `policy` allows (see the module docstring)."""

    def __init__(self, policy: EgressPolicy, *, resolver: AbstractResolver | None = None, **kwargs: Any) -> None:
        if "socket_factory" in kwargs:
            raise TypeError("EgressConnector sets socket_factory itself: it is where the egress check happens")
        self.policy = policy
        self._egress_resolver = EgressResolver(policy, resolver)
        super().__init__(resolver=self._egress_resolver, socket_factory=self._checked_socket, **kwargs)

    def _checked_socket(self, addr_info: AddrInfoType) -> socket.socket:
        # Called by aiohappyeyeballs for every connection attempt, with the address about to be connected.
        family, type_, proto, _, sockaddr = addr_info
        self.policy.check_address(str(sockaddr[0]))
        return socket.socket(family=family, type=type_, proto=proto)

    async def close(self, *, abort_ssl: bool = False) -> None:
        await super().close(abort_ssl=abort_ssl)
        await self._egress_resolver.close()


def egress_connector(
    policy: EgressPolicy, *, resolver: AbstractResolver | None = None, **kwargs: Any
) -> aiohttp.TCPConnector:
    """A connector that only connects where `policy` allows: resolved addresses are filtered
    (`EgressResolver` around `resolver`, aiohttp's default when None; the connector closes it) and every
    socket's destination is checked just before connecting, so IP literals and DNS rebinding are covered.
    Other keyword arguments go to `aiohttp.TCPConnector` (limit, ttl_dns_cache, ...). Call it with a running
    loop; use the session with `trust_env=False` and no `proxy=` (the check is on the address connected to).
    """
    return EgressConnector(policy, resolver=resolver, **kwargs)
