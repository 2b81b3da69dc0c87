"""Normalizing and vetting the URLs a request gives: start page, webhook, TOTP endpoint.

Skyvern's rules: a URL without a scheme gets `https://`; anything but http(s)
is refused with 400 `Invalid URL: ...`. Harrier adds one of its own: targets on
loopback, private or link-local addresses are refused unless the operator sets
HARRIER_ALLOW_PRIVATE_NETWORKS, so an API client cannot aim the browser or a
webhook at the machines behind Harrier. Names are resolved again where the
connection is made; here only what the URL itself says is checked.
"""

import ipaddress
import re
from urllib.parse import urlsplit

from django.conf import settings

# "scheme:" at the start, unless what follows the colon is a port ("localhost:8000").
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):(?!\d+(?:[/?#]|$))")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?\.?)+$")
INTERNAL_HOSTNAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class InvalidURL(ValueError):
    def __init__(self, url: str, reason: str = "") -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"Invalid URL: {url}" + (f" ({reason})" if reason else ""))


def normalize_url(value: str) -> str:
    """The URL with a scheme, or InvalidURL saying what is wrong with it."""
    url = value.strip()
    match = _SCHEME.match(url)
    if match is None:
        url = "https://" + url
    elif match.group(1).lower() not in ("http", "https"):
        raise InvalidURL(value, "only http and https URLs are allowed")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise InvalidURL(value, str(exc)) from None
    host = parts.hostname or ""
    if not host or any(c.isspace() for c in url) or not _valid_host(host):
        raise InvalidURL(value)
    if not settings.HARRIER_ALLOW_PRIVATE_NETWORKS and is_internal_host(host):
        raise InvalidURL(value, "internal addresses are not allowed")
    return url


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(host))


def is_internal_host(host: str) -> bool:
    """True for names and literal addresses that point inside the machine or its network."""
    host = host.lower().rstrip(".")
    if host in INTERNAL_HOSTNAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return is_internal_address(address)


def is_internal_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast
