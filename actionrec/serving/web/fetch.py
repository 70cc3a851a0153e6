"""Fetching a video URL for the web app, safely: one total deadline for the whole download
(connect, headers, every byte, every redirect), a size limit, and no request to loopback,
private, link-local or otherwise non-public addresses unless the server allows them.

Every address the host name resolves to is checked, the connection goes to a checked address
(so a second DNS answer cannot swap in another), and each redirect is checked the same way.
"""

from __future__ import annotations

import http.client
import ipaddress
import mimetypes
import socket
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from actionrec.data.clips import VIDEO_SUFFIXES

MAX_REDIRECTS = 5
CHUNK = 1 << 16


class WebError(Exception):
    """A request the app refuses (a URL it will not or cannot fetch, ...): an HTTP status and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class FetchPolicy:
    """``deadline_s``: the whole download; ``limit``: bytes; ``allow_private``: non-public addresses too."""

    deadline_s: float = 30.0
    limit: int = 50 * 2**20
    allow_private: bool = False


def video_suffix(name: str, what: str) -> str:
    """The video suffix of ``name``; WebError 400 naming ``what`` when it has none."""
    suffix = Path(name).suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise WebError(400, f"{what} is not a video file: expected one of {', '.join(sorted(VIDEO_SUFFIXES))}.")
    return suffix


def too_large(limit: int) -> str:
    return f"The video is larger than the limit of {limit / 2**20:.3g} MB."


def non_public(address: str) -> str | None:
    """Why ``address`` is refused without --allow-private-urls (``loopback``, ...), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "link_local", "unspecified", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if ip.is_global else "non-public"


def resolve(host: str, port: int, allow_private: bool) -> list[str]:
    """Every address ``host`` resolves to; WebError 403 if any of them is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebError(400, f"Could not fetch the URL: cannot resolve {host!r} ({exc}).") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            if (why := non_public(address)) is not None:
                raise WebError(
                    403,
                    f"Refused to fetch the URL: {host} resolves to {address}, a {why} address "
                    "(start the server with --allow-private-urls to allow such URLs).",
                )
    return addresses


class _Pinned(http.client.HTTPConnection):
    """An HTTP connection to ``address`` (already checked) for the name ``host``."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self.pinned: socket.socket | None = None

    def connect(self) -> None:
        self.sock = self.pinned = self._wrap(socket.create_connection((self._address, self.port), self.timeout))

    def _wrap(self, sock: socket.socket) -> socket.socket:
        return sock  # kept in ``pinned``: http.client drops ``sock`` once a closing response is read


class _PinnedTLS(_Pinned, http.client.HTTPSConnection):
    """The same over TLS, the certificate checked against ``host`` (SNI too)."""

    def _wrap(self, sock: socket.socket) -> socket.socket:
        return self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _open(url: str, policy: FetchPolicy, deadline: float) -> tuple[_Pinned, http.client.HTTPResponse]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebError(400, "Only http:// and https:// URLs of video files are supported.")
    tls = parts.scheme == "https"
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError:
        raise WebError(400, f"The URL has an invalid port: {url}") from None
    error: OSError | None = None
    for address in resolve(parts.hostname, port, policy.allow_private):
        conn = (_PinnedTLS if tls else _Pinned)(parts.hostname, port, address, _left(deadline))
        try:
            conn.request(
                "GET",
                urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, "")),
                headers={"User-Agent": "actionrec-web"},
            )
            conn.pinned.settimeout(_left(deadline))  # type: ignore[union-attr]
            return conn, conn.getresponse()
        except OSError as exc:
            conn.close()
            error = exc
            if isinstance(exc, TimeoutError):
                break
    assert error is not None
    raise error


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _suffix(url: str, ctype: str) -> str:
    path = urllib.parse.urlsplit(url).path
    if Path(path).suffix.lower() in VIDEO_SUFFIXES or not ctype.startswith("video/"):
        return video_suffix(path, "The URL")
    return mimetypes.guess_extension(ctype) or ".mp4"


def fetch_url(url: str, folder: Path, policy: FetchPolicy) -> Path:
    """Download ``url`` into ``folder`` within ``policy`` (see the module docstring)."""
    deadline = time.monotonic() + policy.deadline_s
    total = 0
    try:
        for _ in range(MAX_REDIRECTS + 1):
            conn, resp = _open(url, policy, deadline)
            try:
                location = resp.getheader("Location")
                if resp.status in (301, 302, 303, 307, 308) and location:
                    url = urllib.parse.urljoin(url, location)
                    continue
                if resp.status != 200:
                    raise WebError(400, f"Could not fetch the URL: HTTP {resp.status} {resp.reason}.")
                suffix = _suffix(url, resp.headers.get_content_type())
                length = resp.getheader("Content-Length")
                if length and length.isdigit() and int(length) > policy.limit:
                    raise WebError(413, too_large(policy.limit))
                path = folder / f"download{suffix}"
                with path.open("wb") as fh:
                    while True:
                        conn.pinned.settimeout(_left(deadline))  # type: ignore[union-attr]
                        if not (chunk := resp.read1(CHUNK)):
                            return path
                        total += len(chunk)
                        if total > policy.limit:
                            raise WebError(413, too_large(policy.limit))
                        fh.write(chunk)
            finally:
                conn.close()
        raise WebError(400, f"Could not fetch the URL: more than {MAX_REDIRECTS} redirects.")
    except TimeoutError:
        raise WebError(
            504,
            f"The URL did not deliver the video within the {policy.deadline_s:g} s deadline ({total} bytes received).",
        ) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise WebError(400, f"Could not fetch the URL: {exc}.") from None
