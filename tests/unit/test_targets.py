"""The webhook address check as a pure function over addresses of every class (nothing is sent anywhere)."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from service.moderation.targets import AllowList, UnsafeTarget, address_problem, resolve, url_problem
from service.moderation.webhooks import sign, verify

REFUSED = [
    "127.0.0.1",
    "127.9.9.9",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2001:db8::1",
    "fec0::1",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
    "2002:a00:1::1",  # 6to4 wrapping 10.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo whose client is 127.0.0.1
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8",
          "2002:808:808::"]  # fmt: skip


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "http://user:pw@example.com/",
        "http://@example.com/",
        "http:///nohost",
        "http://[::1/",
        "http://example.com:99999/",
        "javascript:alert(1)",
        "http://example.com:0/",
        "http://exa mple.com/",
        "http://a..b/",
        "http://-x.example/",
        "http://host_name.example/",
        "http://%00.example/",
    ],
)
def test_url_shapes_are_refused(url: str) -> None:
    assert url_problem(url) is not None


def test_allow_list_admits_named_hosts_and_ranges_only() -> None:
    allow = AllowList.parse(["hooks.internal", "10.0.0.0/8", "[::1]"])
    assert allow.admits("hooks.internal", ipaddress.ip_address("192.168.0.9"))
    assert allow.admits("x", ipaddress.ip_address("10.9.9.9")) and allow.admits("y", ipaddress.ip_address("::1"))
    assert not allow.admits("x", ipaddress.ip_address("192.168.0.9"))


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379/", "http://localhost/hook", "http://[::1]:8000/", "http://user:pw@127.0.0.1/"]
)
def test_loopback_targets_are_refused_after_resolution(url: str) -> None:
    with pytest.raises(UnsafeTarget) as refused:
        asyncio.run(resolve(url, AllowList()))
    assert "127.0.0.1" not in refused.value.message and "6379" not in refused.value.message  # no oracle
    if "@" not in url:
        allowed = AllowList.parse(["127.0.0.0/8", "::1"])
        assert asyncio.run(resolve(url, allowed)).address.is_loopback


def test_verify_is_false_not_an_error_for_odd_signatures_and_timestamps() -> None:
    body, secret, ts = b"{}", "s", "1700000000"
    good = sign(secret, ts, body)
    assert verify(secret, ts, body, good, now=1700000000)
    for bad in ("sha256=é" + good[8:], "\udcff", "", "sha256=" + "0" * 64):
        assert verify(secret, ts, body, bad, now=1700000000) is False
    for ts_bad in ("nan", "inf", "1e999", "ü", ""):
        assert verify(secret, ts_bad, body, good, now=1700000000) is False
