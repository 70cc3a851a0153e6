"""The web app's URL fetching (actionrec.serving.web.fetch) against local HTTP servers: the total
deadline (a server that trickles), the size limit, redirects, and the refusal of non-public addresses."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from actionrec.serving.web import fetch
from actionrec.serving.web.fetch import FetchPolicy, WebError, fetch_url, non_public

BODY = b"\x00video-bytes" * 1000


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/trickle"):  # one byte every 0.3 s, forever
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.3)
            except OSError:
                return
        if self.path.startswith("/hop/"):  # /hop/3/clip.mp4 -> /hop/2/clip.mp4 -> ... -> /clip.mp4
            n = int(self.path.split("/")[2])
            self.send_response(302)
            self.send_header("Location", "/clip.mp4" if n <= 1 else f"/hop/{n - 1}/clip.mp4")
            self.end_headers()
            return
        if self.path == "/inside":  # a redirect to another (here: loopback) address
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.2:{self.server.server_port}/clip.mp4")
            self.end_headers()
            return
        if self.path == "/clip.mp4":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
            return
        self.send_error(404)


@pytest.fixture(scope="module")
def local() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


ALLOW = FetchPolicy(deadline_s=2.0, limit=1 << 20, allow_private=True)


def test_a_file_and_its_redirects_are_fetched(local: str, tmp_path: Path) -> None:
    assert fetch_url(f"{local}/clip.mp4", tmp_path, ALLOW).read_bytes() == BODY
    assert fetch_url(f"{local}/hop/3/clip.mp4", tmp_path, ALLOW).read_bytes() == BODY
    with pytest.raises(WebError, match="more than 5 redirects") as err:
        fetch_url(f"{local}/hop/9/clip.mp4", tmp_path, ALLOW)
    assert err.value.status == 400


def test_a_trickling_server_meets_the_total_deadline(local: str, tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(WebError, match=r"within the 2 s deadline \(\d+ bytes received\)") as err:
        fetch_url(f"{local}/trickle/clip.mp4", tmp_path, ALLOW)
    took = time.monotonic() - start
    assert err.value.status == 504
    assert 1.9 < took < 3.0, f"each byte arrives within the per-read timeout; the whole took {took:.1f} s"


def test_the_size_limit_holds_for_urls(local: str, tmp_path: Path) -> None:
    small = FetchPolicy(deadline_s=5, limit=len(BODY) - 1, allow_private=True)
    with pytest.raises(WebError, match="larger than the limit") as err:
        fetch_url(f"{local}/clip.mp4", tmp_path, small)
    assert err.value.status == 413


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "0.0.0.0", "169.254.169.254", "10.1.2.3"])
def test_non_public_addresses_are_refused_by_default(host: str, tmp_path: Path) -> None:
    with pytest.raises(WebError, match="--allow-private-urls") as err:
        fetch_url(f"http://{host}:9/clip.mp4", tmp_path, FetchPolicy())
    assert err.value.status == 403
    assert not list(tmp_path.iterdir())


def test_address_classes() -> None:
    assert non_public("127.0.0.1") == "loopback"
    assert non_public("::ffff:127.0.0.1") == "loopback"
    assert non_public("192.168.1.5") == "private"
    assert non_public("fe80::1%eth0") == "link-local"
    assert non_public("100.64.0.1") == "non-public"  # carrier-grade NAT: neither private nor global
    assert non_public("93.184.215.14") is None
    assert non_public("2606:4700::1111") is None


def test_bad_urls_are_refused(tmp_path: Path) -> None:
    for url in ("ftp://example.org/a.mp4", "file:///etc/passwd", "http:///a.mp4"):
        with pytest.raises(WebError, match="Only http") as err:
            fetch_url(url, tmp_path, FetchPolicy())
        assert err.value.status == 400


def test_a_redirect_to_a_non_public_address_is_refused(
    local: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A public host redirecting inside (the SSRF route past a first-hop check): each hop is checked.
    No public host is reachable here, so 127.0.0.1 plays the public one; 127.0.0.2 keeps its class."""
    real = fetch.non_public
    monkeypatch.setattr(fetch, "non_public", lambda address: None if address == "127.0.0.1" else real(address))
    strict = FetchPolicy(deadline_s=2.0, limit=1 << 20, allow_private=False)
    assert fetch_url(f"{local}/clip.mp4", tmp_path, strict).read_bytes() == BODY  # the first hop passes
    refused = tmp_path / "refused"
    refused.mkdir()
    with pytest.raises(WebError, match=r"127\.0\.0\.2, a loopback address.*--allow-private-urls") as err:
        fetch_url(f"{local}/inside", refused, strict)
    assert err.value.status == 403 and not list(refused.iterdir())
