"""X-Forwarded-Proto (and -For) are believed only from the proxies DOCSBOT_TRUSTED_PROXIES names."""
import http.client
import socket
import threading

import pytest
import uvicorn
from django.core.asgi import get_asgi_application
from django.test import Client

from docsbot.core.management.commands.serve import UVICORN_OPTIONS
from tests.waiting import scaled, wait_for

PROTO = ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.fixture
def https_only(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = PROTO
    return settings


def _get(remote_addr: str, **headers):
    return Client(REMOTE_ADDR=remote_addr).get("/health", **headers)


def test_it_ignores_x_forwarded_proto_from_a_client_when_no_proxy_is_trusted(https_only):
    https_only.TRUSTED_PROXIES = []
    forged = _get("127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
    assert forged.status_code == 301 and forged["Location"].startswith("https://")


def test_it_believes_x_forwarded_proto_only_from_a_configured_proxy(https_only):
    https_only.TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::1"]
    assert _get("10.1.2.3", HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert _get("2001:db8::1", HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert _get("192.0.2.9", HTTP_X_FORWARDED_PROTO="https").status_code == 301
    assert _get("10.1.2.3").status_code == 301  # the proxy says nothing: plain HTTP


def test_it_takes_the_client_address_from_a_trusted_proxys_x_forwarded_for(rf, settings):
    from docsbot.core.middleware import TrustedProxyMiddleware

    seen: list[dict] = []
    middleware = TrustedProxyMiddleware(lambda request: seen.append(dict(request.META)))
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    middleware(rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7, 10.0.0.9"))
    assert seen[0]["REMOTE_ADDR"] == "198.51.100.7"  # the nearest hop that is not a trusted proxy
    middleware(rf.get("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="10.9.9.9",
                      HTTP_X_FORWARDED_PROTO="https"))
    assert seen[1]["REMOTE_ADDR"] == "198.51.100.7"  # not a proxy: its headers are dropped
    assert "HTTP_X_FORWARDED_FOR" not in seen[1] and "HTTP_X_FORWARDED_PROTO" not in seen[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_is_not_trusted_from_localhost_by_the_web_server_either(settings):
    """`manage.py serve`'s uvicorn, left to itself, believes X-Forwarded-Proto from 127.0.0.1."""
    settings.SECURE_SSL_REDIRECT = True
    settings.TRUSTED_PROXIES = []
    settings.SECURE_PROXY_SSL_HEADER = None  # what settings.py sets with no trusted proxy
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(get_asgi_application(), host="127.0.0.1", port=port,
                                           **{**UVICORN_OPTIONS, "log_level": "warning"}))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, "uvicorn to start", seconds=30)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(30))
        connection.request("GET", "/health", headers={"X-Forwarded-Proto": "https", "Host": "localhost"})
        response = connection.getresponse()
        assert response.status == 301, response.read()
        assert response.getheader("Location", "").startswith("https://")
        connection.close()
    finally:
        server.should_exit = True
        thread.join(scaled(30))


def test_it_refuses_a_trusted_proxy_that_is_not_an_address(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, str(root / "manage.py"), "check"], capture_output=True, text=True,
                            timeout=120, check=False, cwd=root,
                            env={**os.environ, "DOCSBOT_TRUSTED_PROXIES": "10.0.0.1, proxy.internal",
                                 "DOCSBOT_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == ("docsbot: configuration error: DOCSBOT_TRUSTED_PROXIES: "
                                                      "'proxy.internal' is not an IP address or network")
