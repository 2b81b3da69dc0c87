"""A small real website on loopback for the agent's tests and benchmarks.

The pages live in `site/` beside this module as plain HTML; a few are filled in
or generated here (login state, form echo, uploads, slow and huge pages). It is
a real HTTP server on a real socket, so Chromium loads it exactly as it would
load any site. Nothing here depends on pytest or Django.

    site = FixtureSite().start()
    page.goto(site.url + "/login")
    ...
    site.stop()
"""

from __future__ import annotations

import hashlib
import html
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SITE_DIR = Path(__file__).parent / "site"
USERNAME = "alice"
PASSWORD = "wonderland"
SESSION_COOKIE = "fixture_session"


@dataclass(frozen=True)
class Upload:
    """One file the /upload form received."""

    field: str
    filename: str
    size: int
    content_type: str
    sha256: str


@dataclass
class FixtureSite:
    """The fixture website served on 127.0.0.1 (any free port) from a daemon thread."""

    host: str = "127.0.0.1"
    uploads: list[Upload] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path?query)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _sessions: set[str] = field(default_factory=set)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fixture site is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The origin, without a trailing slash: `http://127.0.0.1:PORT`."""
        return f"http://{self.host}:{self.port}"

    @property
    def cross_origin_url(self) -> str:
        """The same server under another host name, so the browser treats it as another site."""
        return f"http://localhost:{self.port}"

    def start(self) -> FixtureSite:
        site = self

        class Handler(_Handler):
            fixture = site

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fixture-site", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FixtureSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def new_session(self) -> str:
        token = secrets.token_hex(16)
        self._sessions.add(token)
        return token

    def has_session(self, token: str | None) -> bool:
        return token is not None and token in self._sessions


def _page(name: str, **values: str) -> str:
    text = (SITE_DIR / name).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def many_page(n: int) -> str:
    """A page with exactly `n` interactive elements: buttons, links, text inputs, checkboxes."""
    rows = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            rows.append(
                f'<button type="button" onclick="document.getElementById(\'last\').textContent='
                f"'Clicked {i}'\">Button {i}</button>"
            )
        elif kind == 1:
            rows.append(f'<a href="#item-{i}">Link {i}</a>')
        elif kind == 2:
            rows.append(f'<input name="field{i}" aria-label="Field {i}" placeholder="Value {i}">')
        else:
            rows.append(f'<label><input type="checkbox" name="check{i}"> Check {i}</label>')
    items = "\n".join(f'<div class="item">{row}</div>' for row in rows)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Many elements ({n})</title>
<style>.item {{ display: inline-block; width: 120px; height: 28px; margin: 2px; }}</style>
</head><body>
<h1>{n} interactive elements</h1>
<p id="last">Nothing clicked yet</p>
{items}
</body></html>"""


class _Handler(BaseHTTPRequestHandler):
    fixture: FixtureSite
    protocol_version = "HTTP/1.1"
    server_version = "FixtureSite/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _parts(self) -> tuple[str, dict[str, list[str]]]:
        split = urlsplit(self.path)
        return split.path, parse_qs(split.query)

    def _cookie(self, name: str) -> str | None:
        for chunk in (self.headers.get("Cookie") or "").split(";"):
            key, _, value = chunk.strip().partition("=")
            if key == name:
                return value
        return None

    def _send(
        self,
        body: str | bytes,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _redirect(self, location: str, status: int = 303, headers: dict[str, str] | None = None):
        self._send(b"", status, "text/plain", {"Location": location, **(headers or {})})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # -- routes -----------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self.fixture.requests.append(("GET", self.path))
        path, query = self._parts
        static = {
            "/": "index.html",
            "/login": "login.html",
            "/table": "table.html",
            "/inputs": "inputs.html",
            "/upload": "upload.html",
            "/download": "download.html",
            "/changing": "changing.html",
            "/hidden": "hidden.html",
            "/hover": "hover.html",
            "/scroll": "scroll.html",
            "/popup": "popup.html",
            "/flow/done": "flow_done.html",
        }
        if path in static:
            self._send(_page(static[path]))
        elif path == "/account":
            if self.fixture.has_session(self._cookie(SESSION_COOKIE)):
                self._send(_page("account.html"))
            else:
                self._redirect("/login")
        elif path == "/logout":
            self._redirect(
                "/login", headers={"Set-Cookie": f"{SESSION_COOKIE}=; Max-Age=0; Path=/"}
            )
        elif path in ("/flow/1", "/flow/2", "/flow/3"):
            step = int(path[-1])
            texts = {1: "Pick a plan.", 2: "Confirm your details.", 3: "Review and finish."}
            following = f"/flow/{step + 1}" if step < 3 else "/flow/done"
            self._send(_page("flow.html", STEP=str(step), TEXT=texts[step], NEXT=following))
        elif path == "/iframe":
            self._send(_page("iframe.html", CROSS_ORIGIN=self.fixture.cross_origin_url))
        elif path == "/frame/inner":
            name = html.escape(query.get("name", ["inner"])[0])
            self._send(_page("frame_inner.html", NAME=name))
        elif path == "/many":
            n = int(query.get("n", ["2400"])[0])
            self._send(many_page(n))
        elif path == "/slow":
            time.sleep(int(query.get("ms", ["3000"])[0]) / 1000)
            self._send("<!doctype html><title>Slow page</title><h1>Finally loaded</h1>")
        elif path == "/redirect":
            self._redirect(query["to"][0], status=302)
        elif path.startswith("/files/"):
            self._file(path.removeprefix("/files/"), attachment="attachment" in query)
        else:
            self._send("<!doctype html><title>Not found</title><h1>Not found</h1>", 404)

    def _file(self, name: str, *, attachment: bool) -> None:
        file = (SITE_DIR / "files" / name).resolve()
        if file.parent != (SITE_DIR / "files").resolve() or not file.is_file():
            self._send("not found", 404, "text/plain")
            return
        if file.suffix == ".csv":
            attachment = True  # the report is always a download, as invoices are on real sites
        headers = (
            {"Content-Disposition": f'attachment; filename="{file.name}"'} if attachment else {}
        )
        content_type = "text/csv" if file.suffix == ".csv" else "text/plain; charset=utf-8"
        self._send(file.read_bytes(), 200, content_type, headers)

    def do_POST(self) -> None:
        self.fixture.requests.append(("POST", self.path))
        path, _ = self._parts
        body = self._body()
        if path == "/login":
            form = parse_qs(body.decode())
            username = form.get("username", [""])[0]
            password = form.get("password", [""])[0]
            if username == USERNAME and password == PASSWORD:
                token = self.fixture.new_session()
                cookie = f"{SESSION_COOKIE}={token}; Path=/; HttpOnly"
                self._redirect("/account", headers={"Set-Cookie": cookie})
            else:
                error = '<p class="error" role="alert">Invalid username or password.</p>'
                self._send(_page("login.html").replace("<!--ERROR-->", error))
        elif path == "/inputs":
            form = parse_qs(body.decode(), keep_blank_values=True)
            rows = "".join(
                f"<tr><th>{html.escape(key)}</th><td>{html.escape(', '.join(values))}</td></tr>"
                for key, values in sorted(form.items())
            )
            self._send(
                "<!doctype html><title>Submitted</title><h1>Submitted values</h1>"
                f'<table id="submitted">{rows}</table>'
            )
        elif path == "/upload":
            received = self._uploads(body)
            self.fixture.uploads.extend(received)
            items = "".join(
                f"<li>Received {html.escape(u.filename)} ({u.size} bytes) as {html.escape(u.field)}"
                "</li>"
                for u in received
            )
            self._send(
                f"<!doctype html><title>Uploaded</title><h1>Upload result</h1><ul>{items}</ul>"
                f"<p>{len(received)} file(s) received.</p>"
            )
        else:
            self._send("not found", 404, "text/plain")

    def _uploads(self, body: bytes) -> list[Upload]:
        content_type = self.headers.get("Content-Type", "")
        message = BytesParser(policy=email_policy).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        uploads = []
        for part in message.iter_parts():
            filename = part.get_filename()
            if not filename:
                continue  # an empty file input sends a part without a file name
            data = part.get_payload(decode=True) or b""
            uploads.append(
                Upload(
                    field=str(part.get_param("name", header="content-disposition") or ""),
                    filename=filename,
                    size=len(data),
                    content_type=part.get_content_type(),
                    sha256=hashlib.sha256(data).hexdigest(),
                )
            )
        return uploads


__all__ = ["PASSWORD", "USERNAME", "FixtureSite", "Upload", "many_page"]
