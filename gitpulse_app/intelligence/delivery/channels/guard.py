"""No server-side request forgery through a channel URL (docs/CHANNELS.md).

A channel URL must be `https://` with a host name, no credentials, and every address its host
resolves to must be public: not loopback, private, link-local, multicast, unspecified or reserved.
The rule is checked when a channel is saved and again at every connection: `GuardedBackend`
resolves the host itself, checks each address and connects to a checked one, so a name that
re-resolves to an internal address after it was saved (DNS rebinding) reaches nothing.

`GITPULSE_CHANNELS_ALLOW_PRIVATE=1` lifts both rules (http:// and private addresses), for chat
servers on the self-hoster's own network and for tests against local fakes.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOW_HINT = ("Set GITPULSE_CHANNELS_ALLOW_PRIVATE=1 on the server if your chat runs on your own "
              "network.")


class ChannelURLError(ValueError):
    """The URL may not be used as a channel; the message is safe to show (it holds no path)."""


def is_forbidden(address: IPAddress) -> bool:
    """True for loopback, private, link-local, multicast, unspecified and reserved addresses."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_private or address.is_link_local
            or address.is_multicast or address.is_unspecified or address.is_reserved)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ChannelURLError(f"The host {host} could not be resolved.") from exc
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise ChannelURLError(f"The host {host} could not be resolved.")
    return found


def check_addresses(host: str, addresses: Iterable[IPAddress]) -> None:
    for address in addresses:
        if is_forbidden(address):
            raise ChannelURLError(
                f"The channel host {host} resolves to a private or local address ({address}). "
                + ALLOW_HINT)


def check_url(url: str, *, allow_private: bool, resolve_host: bool = True) -> str:
    """The URL, stripped, when it may be used as a channel; else `ChannelURLError`.

    Args:
        url: The channel URL as entered.
        allow_private: `GITPULSE_CHANNELS_ALLOW_PRIVATE`: http:// and private addresses allowed.
        resolve_host: Resolve the host and check its addresses (on save; sending checks them
            again at connect time).
    """
    url = (url or "").strip()
    if not url:
        raise ChannelURLError("Enter the channel's URL.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ChannelURLError("The channel URL must not contain spaces.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ChannelURLError("The channel URL is not a valid URL.") from exc
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_private else ("https",)
    if scheme not in allowed:
        raise ChannelURLError("Channel URLs must start with https://."
                              + ("" if allow_private or scheme != "http" else " " + ALLOW_HINT))
    if not parts.hostname:
        raise ChannelURLError("The channel URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise ChannelURLError("The channel URL must not contain a user name or password.")
    if resolve_host and not allow_private:
        host = parts.hostname
        check_addresses(host, resolve(host, port or (443 if scheme == "https" else 80)))
    return url


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend that connects only to addresses the guard allows.

    The host is resolved here and the connection is made to a checked address; TLS still
    verifies the certificate against the URL's host name (httpcore sends it as SNI).
    """

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        if self.allow_private:
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = resolve(host, port)
        check_addresses(host, addresses)
        return super().connect_tcp(str(addresses[0]), port, timeout, local_address,
                                   socket_options)
