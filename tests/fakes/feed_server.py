"""A small HTTP server on 127.0.0.1 serving the feeds a test writes, well-behaved or hostile."""

from __future__ import annotations

import gzip
import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Route:
    """What one path answers."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None  # answer 304 when the client sends it back
    last_modified: str | None = None
    redirect: str | None = None  # a path (or URL) to send the client to, with 301
    gzip: bool = False  # send the body gzip-compressed (Content-Encoding: gzip)
    junk_bytes: int = 0  # instead of `body`: this many bytes, no Content-Length
    drip_seconds: float = 0.0  # instead of `body`: one byte every this many seconds


@dataclass
class Seen:
    path: str
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer:
    """`routes[path] = Route(...)`; `url(path)` gives its address; `requests` what was asked."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self._stopping = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return  # keep test output clean

            def do_GET(self) -> None:
                server.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if route.redirect is not None:
                    self.send_response(301)
                    self.send_header("Location", route.redirect)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if (route.etag and self.headers.get("If-None-Match") == route.etag) or (
                        route.last_modified
                        and self.headers.get("If-Modified-Since") == route.last_modified):
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.last_modified:
                    self.send_header("Last-Modified", route.last_modified)
                try:
                    if route.junk_bytes:
                        self._junk(route)
                    elif route.drip_seconds:
                        self._drip(route)
                    else:
                        body = gzip.compress(route.body) if route.gzip else route.body
                        if route.gzip:
                            self.send_header("Content-Encoding", "gzip")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up, as it should with these

            def _junk(self, route: Route) -> None:
                if route.gzip:
                    # A gzip bomb: a small download that inflates to `junk_bytes`.
                    body = gzip.compress(b"<rss>" + b" " * route.junk_bytes)
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.end_headers()
                chunk = b"<item>" + b"x" * 65_530
                sent = 0
                while sent < route.junk_bytes and not server._stopping.is_set():
                    self.wfile.write(chunk)
                    sent += len(chunk)

            def _drip(self, route: Route) -> None:
                self.end_headers()
                deadline = time.monotonic() + 10  # bounded, whatever the client does
                for byte in (route.body or b"<rss>" * 100):
                    if server._stopping.is_set() or time.monotonic() > deadline:
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(route.drip_seconds)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def rss(*items: str, title: str = "Harbour News", link: str = "https://news.example.org/") -> bytes:
    """An RSS 2.0 document with these <item> bodies."""
    inner = "".join(f"<item>{item}</item>" for item in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title><link>{link}</link><description>x</description>"
            f"{inner}</channel></rss>").encode()


def atom(*entries: str, title: str = "City Desk") -> bytes:
    """An Atom 1.0 document with these <entry> bodies."""
    inner = "".join(f"<entry>{entry}</entry>" for entry in entries)
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{title}</title><id>urn:city-desk</id><updated>2026-03-05T08:00:00Z</updated>"
            f"{inner}</feed>").encode()
