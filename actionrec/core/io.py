"""The one way to write an output: atomically, world-readable, never half-written.

A file is written to a hidden temporary sibling (same directory, so the rename is atomic; same
suffix, so tools that pick a format by it still work) and renamed into place only when the
writer finished. A failed writer leaves neither a temporary file nor a changed target.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o644  # what a plain open() would give under the usual umask; mkstemp gives 0600


def temp_sibling(path: Path) -> Path:
    """A fresh hidden path beside ``path`` with the same suffix."""
    return path.with_name(f".{path.stem}.{secrets.token_hex(6)}.tmp{path.suffix}")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on failure it is removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(target)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing (``"w"`` or ``"wb"``); see :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        fh: IO[Any]
        with open(tmp, mode) if "b" in mode else open(tmp, mode, encoding="utf-8", newline="") as fh:
            yield fh


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as sorted, indented JSON atomically."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` at ``dst`` (a copy where linking fails, e.g. across file systems)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def swap_dir(staging: Path, out: Path) -> None:
    """Replace directory ``out`` by ``staging`` with two renames (readers never see half of it)."""
    old = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)
