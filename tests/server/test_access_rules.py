"""The rules the server's guard applies, case by case: which host names it answers to, which
pages may drive it, and which request bodies count as declared JSON."""

from __future__ import annotations

import socket

import pytest

from velocitas_desktop.server.security import Access, declares_json, host_name, origin_of

LOOPBACK = Access.serving("127.0.0.1")


@pytest.mark.parametrize(("authority", "name"), [
    ("127.0.0.1:8000", "127.0.0.1"), ("LocalHost", "localhost"), ("[::1]:8000", "::1"),
    ("example.com.", "example.com"), ("example.com.:80", "example.com"), ("::1", "::1"),
])
def test_a_host_header_is_compared_without_port_brackets_case_or_trailing_dot(authority, name):
    assert host_name(authority) == name


@pytest.mark.parametrize("authority", [
    "127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000", "127.0.0.2", None])
def test_a_loopback_server_answers_to_loopback_names_and_to_scripts_without_host(authority):
    assert LOOPBACK.allows_host(authority)


@pytest.mark.parametrize("authority", [
    "evil.example", "evil.example:8000", "localhost.evil.example", "127.0.0.1.nip.io",
    "192.168.1.20", "0.0.0.0"])
def test_a_loopback_server_refuses_every_other_name_and_address(authority):
    assert not LOOPBACK.allows_host(authority)


def test_a_server_on_every_address_answers_any_address_and_this_machines_name():
    everywhere = Access.serving("0.0.0.0", allowed_hosts=["trading.lan"])
    for authority in ("192.168.1.20:8000", "[fe80::1]", "10.0.0.5", "trading.lan",
                      f"{socket.gethostname()}:8000", "localhost"):
        assert everywhere.allows_host(authority), authority
    assert not everywhere.allows_host("evil.example")
    assert everywhere.network and not LOOPBACK.network


def test_a_server_on_one_address_answers_that_address_and_the_names_it_is_given():
    lan = Access.serving("192.168.1.20", allowed_hosts=["Trading.LAN"])
    assert lan.allows_host("192.168.1.20:8000") and lan.allows_host("trading.lan")
    assert not lan.allows_host("192.168.1.21")


@pytest.mark.parametrize(("url", "origin"), [
    ("HTTP://LocalHost:80/", "http://localhost"), ("https://a.example:443", "https://a.example"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"), ("ws://[::1]:8000", "http://[::1]:8000"),
    ("null", None), ("file:///etc/passwd", None), ("http://a:notaport", None),
])
def test_origins_compare_by_scheme_host_and_port_as_browsers_do(url, origin):
    assert origin_of(url) == origin


def test_only_the_servers_own_pages_and_named_origins_may_drive_it():
    access = Access.serving("127.0.0.1", cors_origins=["http://localhost:5173/"])
    assert access.allows_origin("http://127.0.0.1:8000", "http", "127.0.0.1:8000")
    assert access.allows_origin("http://localhost:8000", "ws", "localhost:8000")
    assert access.allows_origin("http://localhost:5173", "http", "127.0.0.1:8000")
    assert not access.allows_origin("http://127.0.0.1:9999", "http", "127.0.0.1:8000")
    assert not access.allows_origin("https://127.0.0.1:8000", "http", "127.0.0.1:8000")
    assert not access.allows_origin("http://evil.example", "http", "127.0.0.1:8000")
    assert not access.allows_origin("null", "http", "127.0.0.1:8000")


def scope(*headers: tuple[str, str]) -> dict:
    return {"headers": [(k.lower().encode(), v.encode()) for k, v in headers]}


@pytest.mark.parametrize(("headers", "declared"), [
    ((), True),                                                   # curl -X POST, no body
    ((("content-length", "0"),), True),
    ((("content-type", "application/json"),), True),
    ((("content-type", "Application/JSON; charset=utf-8"),), True),
    ((("content-type", "application/merge-patch+json"),), True),
    ((("content-type", "text/plain"),), False),                   # a page's simple request
    ((("content-type", "application/x-www-form-urlencoded"), ("content-length", "0")), False),
    ((("content-type", "multipart/form-data; boundary=x"),), False),
    ((("content-length", "12"),), False),                         # a body, but of what?
    ((("transfer-encoding", "chunked"),), False),
])
def test_a_body_counts_as_declared_json_only_when_it_says_so_or_is_absent(headers, declared):
    assert declares_json(scope(*headers)) is declared
