"""Safe egress: the one HTTP client for every URL a client gives us.

http/https only, ports 80/443 unless the host is allowed, every resolved address
must be public, and the connection goes to the address that was checked (the
hostname travels in the Host header and TLS SNI), so DNS cannot be rebound
between check and use. Response size and total time are capped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx

from .errors import BadRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(*cidrs: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# Never fetched. From the IANA IPv4 Special-Purpose Address Registry (edition of 2020-09-04) and IPv6
# Special-Purpose Address Registry (edition of 2025-10-09), RFC 6890 and its updates: every entry not
# marked globally reachable, the deprecated ones, and whole IETF protocol blocks (192.0.0.0/24,
# 2001::/23) including their few anycast entries, which serve protocols (PCP, TURN, AMT, ORCHIDv2,
# drone IDs), not web content. Multicast comes from the IANA multicast registries, site-local from
# RFC 3879. Python's `is_global` is not used: it lets 192.0.0.0/24 outside /29, 192.88.99.0/24 and
# fec0::/10 through.
DENIED_IPV4 = _networks(
    "0.0.0.0/8",  # "this network" (RFC 791, 1122)
    "10.0.0.0/8",  # private use (RFC 1918)
    "100.64.0.0/10",  # shared address space, carrier-grade NAT (RFC 6598)
    "127.0.0.0/8",  # loopback (RFC 1122)
    "169.254.0.0/16",  # link local, cloud metadata (RFC 3927)
    "172.16.0.0/12",  # private use (RFC 1918)
    "192.0.0.0/24",  # IETF protocol assignments (RFC 6890), DS-Lite, NAT64 discovery
    "192.0.2.0/24",  # documentation, TEST-NET-1 (RFC 5737)
    "192.88.99.0/24",  # 6to4 relay anycast, deprecated (RFC 7526)
    "192.168.0.0/16",  # private use (RFC 1918)
    "198.18.0.0/15",  # benchmarking (RFC 2544)
    "198.51.100.0/24",  # documentation, TEST-NET-2 (RFC 5737)
    "203.0.113.0/24",  # documentation, TEST-NET-3 (RFC 5737)
    "224.0.0.0/4",  # multicast (RFC 5771)
    "240.0.0.0/4",  # reserved (RFC 1112), and 255.255.255.255/32 limited broadcast (RFC 919)
)
DENIED_IPV6 = _networks(
    "::/96",  # unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d (RFC 4291)
    "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation (RFC 8215)
    "100::/64",  # discard only (RFC 6666)
    "100:0:0:1::/64",  # dummy prefix
    "2001::/23",  # IETF protocol assignments (RFC 2928): Teredo 2001::/32, benchmarking, ORCHID
    "2001:db8::/32",  # documentation (RFC 3849)
    "3fff::/20",  # documentation (RFC 9637)
    "5f00::/16",  # segment routing SIDs (RFC 9602)
    "fc00::/7",  # unique local (RFC 4193)
    "fe80::/10",  # link local (RFC 4291)
    "fec0::/10",  # site local, deprecated (RFC 3879)
    "ff00::/8",  # multicast (RFC 4291)
)
# The IANA IPv6 Address Space registry reserves everything outside these for the IETF (besides
# fc00::/7, fe80::/10 and ff00::/8 above): nothing there is reachable. The wrappers below carry an
# IPv4 address and are judged by it.
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")  # RFC 4291
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known translation prefix (RFC 6052)
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")  # RFC 3056
MAX_REDIRECTS = 5
MAX_URL_LENGTH = 2048
IDNA_DOTS = re.compile("[\u3002\uff0e\uff61]")
HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")  # a DNS name in its ASCII (IDNA) form


class EgressBlocked(Exception):
    """The URL may not be fetched; the message says why."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.message = message
        self.transient = transient  # worth retrying later: timeouts, connection errors, 429 and 5xx


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 (well-known prefix) or 6to4 IPv6 address sends packets to."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip in IPV4_MAPPED or ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in SIX_TO_FOUR:
        return ip.sixtofour
    return None


def canonical_host(host: str) -> str:
    """The host as the resolver will see it: NFKC-normalised (fullwidth letters and digits), with IDNA's
    other label separators (U+3002 and its width variants) as dots, lowercase, without a trailing dot."""
    host = unicodedata.normalize("NFKC", host)
    return IDNA_DOTS.sub(".", host).lower().rstrip(".")


def literal_address(host: str) -> IPAddress | None:
    """The address a host names without DNS: IPv4/IPv6 literals, and the numeric forms the resolver
    also accepts (127.1, 0x7f000001, 2130706433, 0177.0.0.1, fullwidth digits and dots)."""
    host = canonical_host(host)
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not host.isascii() or not all(part.isalnum() for part in host.split(".")):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def is_public(ip: IPAddress) -> bool:
    """True only for addresses outside every denied range, judging IPv6 wrappers by the IPv4 they carry."""
    inner = embedded_ipv4(ip)
    if inner is not None:  # the packet really goes to the embedded IPv4 host
        return is_public(inner)
    if isinstance(ip, ipaddress.IPv4Address):
        return not any(ip in net for net in DENIED_IPV4)
    return ip in GLOBAL_UNICAST and not any(ip in net for net in DENIED_IPV6)


@dataclass(frozen=True)
class Reply:
    """What a POST got back: the status, the headers, and the start of the body."""

    status: int
    headers: httpx.Headers
    excerpt: bytes


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


class Egress:
    """Checks and performs outbound requests."""

    def __init__(self, allow: tuple[str, ...] = (), *, timeout: float = 30.0):
        self.allowed_networks: list[Network] = []
        self.allowed_hosts: set[str] = set()
        for item in allow:
            try:
                self.allowed_networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.allowed_hosts.add(item.lower())
        self.timeout = timeout
        self.client = httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=timeout)

    async def aclose(self) -> None:
        await self.client.aclose()

    def _allowed(self, host: str, ip: IPAddress | None) -> bool:
        if host.lower() in self.allowed_hosts:
            return True
        return ip is not None and any(ip in net for net in self.allowed_networks)

    def check_static(self, url: str) -> tuple[str, int, IPAddress | None]:
        """Everything that can be checked without DNS: scheme, credentials, literal addresses, localhost.

        Used at request time, so a URL that is certainly blocked is refused before anything is stored.
        """
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise EgressBlocked("the URL is malformed") from None
        if parts.scheme not in ("http", "https"):
            raise EgressBlocked("only http and https URLs are allowed")
        host = canonical_host(parts.hostname or "")
        if not host:
            raise EgressBlocked("the URL has no host")
        if parts.username or parts.password:
            raise EgressBlocked("URLs with credentials are not allowed")
        port = port or (443 if parts.scheme == "https" else 80)
        try:  # the form the resolver, the Host header and the TLS name all take
            host = host.encode("idna").decode("ascii")
        except UnicodeError:  # an empty label, one over 63 characters, or one IDNA refuses
            raise EgressBlocked(f"the host {host[:64]!r} is not a valid domain name") from None
        literal = literal_address(host)
        if literal is None and not HOST_NAME.fullmatch(host):
            raise EgressBlocked(f"the host {host[:64]!r} is not a valid domain name")
        if literal is not None:
            self._check_address(host, port, literal)
        elif not self._allowed(host, None):
            if host.lower() == "localhost" or host.lower().endswith(".localhost"):
                raise EgressBlocked(f"the host {host!r} is non-public")
            if port not in (80, 443) and not self.allowed_networks:  # nothing could allow it once resolved
                raise EgressBlocked(f"port {port} is not allowed; use 80 or 443")
        return host, port, literal

    def check_given(self, raw: object, field: str) -> str:
        """A URL a client gives us to call later: refused now, naming `field`, when it is certainly not allowed."""
        if not isinstance(raw, str) or not raw.strip():
            raise BadRequest(f"{field} must be an http(s) URL.", field=field)
        if len(raw) > MAX_URL_LENGTH:
            raise BadRequest(f"{field} is longer than {MAX_URL_LENGTH} characters.", field=field)
        try:
            self.check_static(raw.strip())
        except EgressBlocked as exc:
            raise BadRequest(f"{field} is not allowed: {exc.message}.", field=field) from None
        return raw.strip()

    def _check_address(self, host: str, port: int, ip: IPAddress) -> None:
        if self._allowed(host, ip):
            return
        if not is_public(ip):
            # Said without the address: the answer reaches public-key callers, who may not map internal names.
            raise EgressBlocked("the URL points at a non-public address, which this server may not reach")
        if port not in (80, 443):
            raise EgressBlocked(f"port {port} is not allowed; use 80 or 443")

    async def check(self, url: str) -> Target:
        """Validate `url` and resolve its host; raise EgressBlocked naming the problem."""
        host, port, literal = self.check_static(url)
        if literal is not None:
            addresses: tuple[IPAddress, ...] = (literal,)
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError):
                raise EgressBlocked(f"the host {host!r} does not resolve", transient=True) from None
            addresses = tuple(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
            if not addresses:
                raise EgressBlocked(f"the host {host!r} does not resolve", transient=True)
            for ip in addresses:
                self._check_address(host, port, ip)
        return Target(url=url, host=host, port=port, addresses=addresses)

    def _pinned(self, target: Target, method: str, body: bytes | None, headers: dict[str, str]) -> httpx.Request:
        parts = urlsplit(target.url)
        ip = target.addresses[0]
        netloc = f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)
        pinned_url = urlunsplit((parts.scheme, f"{netloc}:{target.port}", parts.path or "/", parts.query, ""))
        name = f"[{target.host}]" if ":" in target.host else target.host
        host_header = name if parts.port is None else f"{name}:{target.port}"
        request = self.client.build_request(
            method, pinned_url, content=body, headers={**headers, "Host": host_header}
        )
        if parts.scheme == "https":
            request.extensions["sni_hostname"] = target.host
        return request

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        """GET `url`, following up to five redirects (each re-checked), reading at most `max_bytes`."""
        try:
            with anyio.fail_after(self.timeout):
                for _ in range(MAX_REDIRECTS + 1):
                    target = await self.check(url)
                    request = self._pinned(target, "GET", None, {"User-Agent": "Cutout"})
                    response = await self.client.send(request, stream=True)
                    try:
                        if response.is_redirect:
                            url = str(httpx.URL(url).join(response.headers.get("location", "")))
                            continue
                        if response.status_code != 200:
                            raise EgressBlocked(
                                f"the server answered HTTP {response.status_code}",
                                transient=response.status_code == 429 or response.status_code >= 500,
                            )
                        declared = response.headers.get("content-length", "")
                        if declared.isdigit() and int(declared) > max_bytes:
                            raise EgressBlocked(f"the response is larger than {max_bytes} bytes")
                        chunks, total = [], 0
                        async for chunk in response.aiter_bytes():
                            total += len(chunk)
                            if total > max_bytes:
                                raise EgressBlocked(f"the response is larger than {max_bytes} bytes")
                            chunks.append(chunk)
                        return b"".join(chunks)
                    finally:
                        await response.aclose()
                raise EgressBlocked(f"more than {MAX_REDIRECTS} redirects")
        except TimeoutError:
            raise EgressBlocked(f"the download took longer than {self.timeout:.0f} s", transient=True) from None
        except httpx.HTTPError as exc:
            raise EgressBlocked(f"the download failed ({type(exc).__name__})", transient=True) from None

    async def post(
        self, url: str, *, body: bytes, headers: dict[str, str], timeout: float, max_excerpt: int = 2048
    ) -> Reply:
        """POST `body` once, never following a redirect; `timeout` covers resolving, sending and reading."""
        try:
            with anyio.fail_after(timeout):
                target = await self.check(url)
                request = self._pinned(target, "POST", body, headers)
                response = await self.client.send(request, stream=True)
                try:
                    excerpt = b""
                    async for chunk in response.aiter_bytes():
                        excerpt += chunk
                        if len(excerpt) >= max_excerpt:
                            break
                    return Reply(response.status_code, response.headers, excerpt[:max_excerpt])
                finally:
                    await response.aclose()
        except TimeoutError:
            raise EgressBlocked(f"no answer within {timeout:.0f} s", transient=True) from None
        except httpx.HTTPError as exc:
            raise EgressBlocked(f"the request failed ({type(exc).__name__})", transient=True) from None
