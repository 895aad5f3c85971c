"""Proxy headers are believed only from the proxies the deployment names.

``X-Forwarded-Proto`` decides whether Django takes a request for HTTPS (secure cookies, the SSL
redirect, CSRF's origin checks) and ``X-Forwarded-For`` who the client is; any client can send
both. ``DOCSBOT_TRUSTED_PROXIES`` (addresses or networks, none by default) lists the reverse
proxies whose word is taken: from any other peer the headers are dropped before anything reads
them. Behind a trusted proxy the client address (``REMOTE_ADDR``) is the nearest
``X-Forwarded-For`` entry that is not itself a trusted proxy.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

PROXY_HEADERS = ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST",
                 "HTTP_X_FORWARDED_PORT", "HTTP_FORWARDED")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def is_trusted_proxy(address: str | None) -> bool:
    proxies = tuple(settings.TRUSTED_PROXIES)
    if not address or not proxies:
        return False
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in _networks(proxies))


class TrustedProxyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        if not is_trusted_proxy(meta.get("REMOTE_ADDR")):
            for header in PROXY_HEADERS:
                meta.pop(header, None)
        else:
            hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
            client = next((hop for hop in reversed(hops) if not is_trusted_proxy(hop)), None)
            if client is not None:
                meta["REMOTE_ADDR"] = client
        return self.get_response(request)
