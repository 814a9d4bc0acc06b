"""Safe egress: URLs given by clients never reach loopback, private or metadata addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator

import httpx
import pytest

from service.egress import Egress, EgressBlocked, is_public

from .conftest import image_bytes
from .receiver import Origin

BLOCKED = [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "255.255.255.255", "240.0.0.1", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::1", "2002:a9fe:a9fe::1",
    "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "::127.0.0.1",
]  # fmt: skip
PUBLIC = ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1", "64:ff9b::101:101"]


@pytest.mark.parametrize("address", BLOCKED)
def test_blocked_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url,reason",
    [
        ("ftp://example.com/a.png", "http and https"),
        ("file:///etc/passwd", "http and https"),
        ("http://localhost/a.png", "non-public"),
        ("http://127.0.0.1:8000/a.png", "non-public"),
        ("http://[::1]/a.png", "non-public"),
        ("http://[::ffff:7f00:1]/a.png", "non-public"),
        ("http://169.254.169.254/latest/meta-data/", "non-public"),
        ("http://0x7f000001/", "non-public"),
        ("http://user:pw@1.1.1.1/", "credentials"),
        ("http://1.1.1.1:8080/", "port 8080"),
        ("http://no-such-host.invalid/", "does not resolve"),
    ],
)
def test_check_refuses(url: str, reason: str) -> None:
    async def run() -> None:
        egress = Egress()
        try:
            with pytest.raises(EgressBlocked, match=reason):
                await egress.check(url)
        finally:
            await egress.aclose()

    asyncio.run(run())


@pytest.mark.parametrize(
    "url,reason",
    [
        ("http://127.1/", "non-public"),
        ("http://0x7f000001/", "non-public"),
        ("http://2130706433/", "non-public"),
        ("http://0177.0.0.1/", "non-public"),
        ("http://0/", "non-public"),
        ("http://\uff11\uff12\uff17.0.0.1/", "non-public"),  # fullwidth digits: NFKC makes them 127
        ("http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/", "non-public"),  # fullwidth: localhost
        ("http://127\u30020\u30020\u30021/", "non-public"),  # ideographic full stops are dots to IDNA
        ("http://example.com:22/", "port 22"),
    ],
)
def test_request_time_check_sees_numeric_hosts_and_ports(url: str, reason: str) -> None:
    """What the resolver would turn into a blocked address is refused before any DNS, at request time."""
    with pytest.raises(EgressBlocked, match=reason):
        Egress().check_static(url)
    assert Egress(("example.com",)).check_static("http://example.com:8080/")[1] == 8080


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = Origin(image_bytes())
    yield server
    server.close()


def url_upload(server, url: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{server.url}/api/v1/files/upload", auth=server.auth(), files={"file": (None, url)}, data={"fileName": "u.png"}
    )


def test_upload_from_url_when_allowed(make_server, origin: Origin) -> None:  # type: ignore[no-untyped-def]
    server = make_server(egress_allow=("127.0.0.0/8",))
    response = url_upload(server, f"{origin.url}/photo.png")
    assert response.status_code == 200, response.text
    assert response.json()["size"] == len(image_bytes())
    assert origin.hits == ["/photo.png"]


def test_upload_from_url_never_reaches_loopback_by_default(make_server, origin: Origin) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    port = origin.url.rsplit(":", 1)[1]
    for url in [
        f"{origin.url}/a.png",
        f"http://localhost:{port}/a.png",
        f"http://[::ffff:127.0.0.1]:{port}/a.png",
        f"http://[::1]:{port}/a.png",
    ]:
        response = url_upload(server, url)
        assert response.status_code == 400, url
        assert "could not be fetched" in response.json()["message"]
    assert origin.hits == []
    assert server.file_count() == 0


def test_redirects_are_checked_again(make_server, origin: Origin) -> None:  # type: ignore[no-untyped-def]
    server = make_server(egress_allow=("127.0.0.0/8",))
    origin.redirect_to = "http://169.254.169.254/latest/meta-data/"
    response = url_upload(server, f"{origin.url}/redirect")
    assert response.status_code == 400
    assert "non-public" in response.json()["message"]
    assert origin.hits == ["/redirect"]
    assert server.file_count() == 0


def test_an_internationalised_host_travels_in_its_ascii_form() -> None:
    """Resolver, Host header and TLS name all get the IDNA form: httpx sends header values as ASCII, so the
    host as written was an exception outside EgressBlocked (a 500 for a file URL, a stuck webhook delivery)."""

    async def run() -> httpx.Request:
        async def resolve(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
            assert host == "xn--bcher-kva.example"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

        asyncio.get_running_loop().getaddrinfo = resolve  # type: ignore[method-assign]
        egress = Egress()
        try:
            return egress._pinned(await egress.check("https://B\u00fccher.example:443/a.png"), "GET", None, {})
        finally:
            await egress.aclose()

    request = asyncio.run(run())
    assert request.headers["host"] == "xn--bcher-kva.example:443"
    assert request.extensions["sni_hostname"] == "xn--bcher-kva.example"
    assert str(request.url) == "https://93.184.216.34/a.png"


# One address in every denied range (IANA's special-purpose registries, multicast, site-local), written out
# here rather than taken from the service's list, plus the IPv6 forms that carry an IPv4 address.
DENIED_SAMPLES = [
    ("0.1.2.3", "this network"), ("10.255.0.1", "private use"), ("100.127.255.254", "shared address space"),
    ("127.8.8.8", "loopback"), ("169.254.1.1", "link local"), ("172.31.255.1", "private use"),
    ("192.0.0.1", "DS-Lite"), ("192.0.0.8", "dummy address"), ("192.0.0.170", "NAT64 discovery"),
    ("192.0.0.200", "IETF protocol assignments outside /29"), ("192.0.2.10", "TEST-NET-1"),
    ("192.88.99.1", "6to4 relay anycast"), ("192.168.200.1", "private use"), ("198.19.255.1", "benchmarking"),
    ("198.51.100.7", "TEST-NET-2"), ("203.0.113.9", "TEST-NET-3"), ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "limited broadcast"),
    ("::", "unspecified"), ("::1", "loopback"), ("::8.8.8.8", "IPv4-compatible, deprecated"),
    ("::ffff:192.0.0.200", "IPv4-mapped, carrying a denied IPv4"), ("::ffff:0:808:808", "IPv4-translated"),
    ("64:ff9b::c0a8:101", "NAT64, carrying a private IPv4"), ("64:ff9b:1::808:808", "local-use NAT64"),
    ("100::1", "discard only"), ("100:0:0:1::1", "dummy prefix"), ("2001::808:808", "Teredo"),
    ("2001:2::1", "benchmarking"), ("2001:10::1", "ORCHID, deprecated"), ("2001:db8::1", "documentation"),
    ("2002:c058:6301::1", "6to4, carrying the 6to4 relay anycast"), ("2002:a9fe:a9fe::1", "6to4, carrying link local"),
    ("3fff::1", "documentation"), ("5f00::1", "segment routing SIDs"), ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"), ("fe80::1", "link local"), ("fec0::1", "site local, deprecated"),
    ("ff02::1", "multicast"), ("4000::1", "reserved by the IETF"),
]  # fmt: skip


@pytest.mark.parametrize(("address", "range_name"), DENIED_SAMPLES)
def test_every_special_purpose_range_is_denied(address: str, range_name: str) -> None:
    assert not is_public(ipaddress.ip_address(address)), range_name


@pytest.mark.parametrize("address", ["192.31.196.1", "192.175.48.1", "2620:4f:8000::1", "2002:808:808::1",
                                     "64:ff9b::808:808", "::ffff:8.8.8.8", "2a00:1450:4001::1"])  # fmt: skip
def test_globally_reachable_neighbours_stay_allowed(address: str) -> None:
    """AS112 sinks and IPv6 wrappers carrying a public IPv4 are reachable, as the registries say."""
    assert is_public(ipaddress.ip_address(address))


def test_denied_ranges_are_refused_in_url_fields(make_server) -> None:  # type: ignore[no-untyped-def]
    """Both an ImageKit URL upload and a webhook endpoint's URL refuse every denied range before storing."""
    server = make_server()
    for address, range_name in DENIED_SAMPLES:
        host = f"[{address}]" if ":" in address else address
        upload = url_upload(server, f"http://{host}/a.png")
        assert upload.status_code == 400, (address, range_name, upload.text)
        assert "non-public" in upload.json()["message"], upload.text
        hook = httpx.post(f"{server.url}/v1/webhooks/endpoints", auth=server.auth(), json={"url": f"https://{host}/h"})
        assert hook.status_code == 400, (address, range_name, hook.text)
        assert "url" in hook.json()["message"] and "non-public" in hook.json()["message"], hook.text
    assert server.file_count() == 0
    assert httpx.get(f"{server.url}/v1/webhooks/endpoints", auth=server.auth()).json() == []


def test_the_allow_list_still_opens_a_denied_range() -> None:
    async def run() -> None:
        egress = Egress(("192.0.0.0/24", "fec0::/10"))
        try:
            assert (await egress.check("http://192.0.0.200/a.png")).addresses == (ipaddress.ip_address("192.0.0.200"),)
            assert (await egress.check("http://[fec0::1]/a.png")).addresses == (ipaddress.ip_address("fec0::1"),)
            with pytest.raises(EgressBlocked, match="non-public"):
                await egress.check("http://192.88.99.1/a.png")
        finally:
            await egress.aclose()

    asyncio.run(run())
