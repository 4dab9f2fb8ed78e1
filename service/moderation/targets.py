"""Where a webhook may go. A callback URL comes from a platform's request and a tenant's webhook from its settings;
either could point the server at itself or its network (Redis, a cloud metadata service, an admin panel). So:

- the URL must be http(s), name a host, and carry no user:password;
- every address the host resolves to must be public: loopback, private, link-local, multicast, reserved and
  unspecified addresses (IPv4, IPv6, and IPv4 inside IPv6) are refused, unless the tenant's allow-list names the
  host or an address range it falls in (for sites that deliver to an internal host on purpose);
- the check runs when a comment is accepted and again at each delivery (DNS can change in between), and the
  delivery connects to the very address that was checked (a second lookup could answer differently).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx

from service.config import Settings
from service.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(InvalidInput):
    """A webhook URL the server must not deliver to."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="unsafe_callback_url")


@dataclass(frozen=True)
class AllowList:
    """Hosts (exact names) and address ranges a tenant may deliver to although they are not public."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        hosts, networks = set(), []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.lower())
        return cls(frozenset(hosts), tuple(networks))

    def admits(self, host: str, address: IPAddress) -> bool:
        return host.lower() in self.hosts or any(address in n for n in self.networks if n.version == address.version)


@dataclass(frozen=True)
class Target:
    """A checked delivery target: connect to ``address``, and present ``host`` (Host header, TLS name)."""

    url: SplitResult
    host: str
    address: IPAddress
    port: int

    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address."""
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return self.url._replace(netloc=f"{literal}:{self.port}").geturl()


# A DNS name as a URL may carry it (letters, digits, hyphens; punycode for the rest), so nothing odd is looked up.
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$"
)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def address_problem(address: IPAddress) -> str | None:
    """Why a webhook must not go to ``address`` (None: a public address)."""
    wrapped = _wrapped_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    if wrapped is not None:  # an IPv6 form that reaches an IPv4 host: that host decides
        return address_problem(wrapped)
    for kind in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return f"{kind.replace('_', '-')} address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local address"
    if not address.is_global:
        return "non-public address"
    return None


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known NAT64 prefix (RFC 6052)


def _wrapped_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries: IPv4-mapped (::ffff:a.b.c.d), 6to4 (2002:AABB:CCDD::), Teredo's
    client, or NAT64's well-known prefix. "2002:7f00:1::" is 127.0.0.1 reached through a 6to4 relay."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def url_problem(url: str) -> str | None:
    """What is wrong with a webhook URL's shape (None: it is a plain http(s) URL with a host)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "the scheme must be http or https"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "user:password in the URL is not allowed"
    if not parts.hostname:
        return "the URL names no host"
    if not _is_ip(parts.hostname) and not HOSTNAME.match(parts.hostname):
        return "the host is not a valid name"
    if port == 0:
        return "port 0 is not a port"
    return None


async def resolve(url: str, allow: AllowList, *, timeout_s: float = 5.0) -> Target:
    """The checked target of ``url``; raises UnsafeTarget (with a message that names no address) otherwise."""
    problem = url_problem(url)
    if problem:
        raise UnsafeTarget(f"callback URL refused: {problem}")
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout_s
        )
    except (OSError, TimeoutError) as exc:
        raise UnsafeTarget("callback URL refused: its host does not resolve") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnsafeTarget("callback URL refused: its host does not resolve")
    for address in addresses:  # every answer must be safe: an attacker's DNS may rotate between them
        reason = address_problem(address)
        if reason and not allow.admits(host, address):
            raise UnsafeTarget(f"callback URL refused: its host resolves to a {reason}")
    return Target(parts, host, addresses[0], port)


def allow_list(settings: Settings, tenant: str) -> AllowList:
    """The tenant's configured allow-list: its webhook's, Coral site's and identity provider's (empty: public
    addresses only)."""
    hook, coral, oidc = settings.webhooks.get(tenant), settings.coral_sites.get(tenant), settings.oidc.get(tenant)
    entries = [*(hook.allow if hook else ()), *(coral.allow if coral else ()), *(oidc.allow if oidc else ())]
    return AllowList.parse(entries)


async def post_checked(
    client: httpx.AsyncClient,
    url: str,
    allow: AllowList,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout_s: float,
) -> httpx.Response:
    """POST to ``url`` at the address that was checked (request_checked)."""
    return await request_checked(client, "POST", url, allow, content=content, headers=headers, timeout_s=timeout_s)


async def request_checked(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    allow: AllowList,
    *,
    timeout_s: float,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A request to ``url`` at the address that was checked, presenting the URL's host name (Host header, TLS SNI
    and certificate check): a second DNS lookup by the client could answer with another address. Bounded in total,
    however slowly the other side answers. Raises UnsafeTarget, TimeoutError or httpx's errors."""
    target = await resolve(url, allow)
    extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
    async with asyncio.timeout(timeout_s):
        return await client.request(
            method,
            target.pinned_url(),
            content=content,
            headers={**(headers or {}), "host": target.url.netloc},
            extensions=extensions,
        )


def delivery_error(exc: Exception) -> str:
    """What kind of failure a delivery met, never echoing connection details (a dead letter must not be a way to
    probe the network behind the server)."""
    if isinstance(exc, UnsafeTarget):
        return exc.message
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    return f"delivery failed ({type(exc).__name__})"
