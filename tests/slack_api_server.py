"""A local HTTP server standing in for slack.com/api and response_url: it records every POST."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.received.append({"path": self.path, "headers": dict(self.headers),
                                         "json": json.loads(body or b"{}")})
        payload = json.dumps({"ok": True, "ts": "1.0"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@contextmanager
def slack_api_server() -> Iterator[ThreadingHTTPServer]:
    """Yields the running server; ``.received`` lists the POSTs, ``.api_url`` is the API base."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.received, server.lock = [], threading.Lock()
    server.api_url = f"http://127.0.0.1:{server.server_port}/api"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
