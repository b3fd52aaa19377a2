"""The client's address behind a reverse proxy: the lockout and the access log read the same one."""

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from novamind import access, config


def request(remote: str, forwarded: str | None = None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/admin/", **headers)


def test_without_trusted_proxies_the_address_is_remote_addr_whatever_the_header_says(settings):
    settings.NOVAMIND_TRUSTED_PROXIES = []
    assert access.client_address(request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_address_is_the_last_forwarded_entry(settings):
    settings.NOVAMIND_TRUSTED_PROXIES = ["127.0.0.1"]
    # The first entry was written by the client (anyone can send the header); the last by the proxy.
    assert access.client_address(request("127.0.0.1", "10.9.9.9, 198.51.100.7")) == "198.51.100.7"


def test_a_trusted_network_is_read_as_gunicorn_reads_it(settings):
    settings.NOVAMIND_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert access.client_address(request("10.20.30.40", "198.51.100.7")) == "198.51.100.7"
    assert access.client_address(request("192.0.2.1", "198.51.100.7")) == "192.0.2.1"


@pytest.mark.parametrize("forwarded", [None, "", "not-an-address", "198.51.100.7, <script>"])
def test_a_missing_or_unreadable_header_from_the_proxy_gives_the_proxy_address(settings, forwarded):
    settings.NOVAMIND_TRUSTED_PROXIES = ["127.0.0.1"]
    assert access.client_address(request("127.0.0.1", forwarded)) == "127.0.0.1"


def test_the_login_lockout_reads_the_address_the_access_log_records():
    assert django_settings.AXES_CLIENT_IP_CALLABLE == "novamind.access.client_address"


def test_a_trusted_proxy_entry_that_is_no_address_stops_the_start():
    assert config.trusted_proxies([" 127.0.0.1 ", "", "10.0.0.0/8", "::1"]) == ["127.0.0.1", "10.0.0.0/8", "::1"]
    with pytest.raises(ImproperlyConfigured, match="'proxy.local' is not an IP address or network"):
        config.trusted_proxies(["proxy.local"])
