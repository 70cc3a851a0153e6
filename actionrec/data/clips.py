"""Input video clips: their references, names and discovery under ``root/<Class>/``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VIDEO_SUFFIXES", "ClipRef", "discover_clips", "ucf_group"]

VIDEO_SUFFIXES = frozenset({".avi", ".mp4", ".mov", ".mkv", ".webm", ".mpg", ".mpeg"})

_UCF_RE = re.compile(r"^v_(?P<cls>.+)_(?P<group>g\d+)_c\d+$")
_WEIZMANN_RE = re.compile(r"^(?P<actor>[A-Za-z]+)_(?P<action>[A-Za-z]+\d*)$")


@dataclass(frozen=True)
class ClipRef:
    """One input video: its path, class label and split group (subject / UCF101 group)."""

    path: Path
    label: str
    group: str


def ucf_group(stem: str) -> str | None:
    """Group of a clip name: UCF101 ``v_<Class>_gNN_cNN`` -> ``gNN``; Weizmann
    ``<actor>_<action>`` -> actor (``daria_bend`` -> ``daria``); anything else -> None."""
    if m := _UCF_RE.match(stem):
        return m["group"]
    if m := _WEIZMANN_RE.match(stem):
        return m["actor"]
    return None


def discover_clips(root: Path) -> list[ClipRef]:
    """Videos under ``root/<Class>/``, sorted; group from :func:`ucf_group`, else the stem."""
    return [
        ClipRef(path, path.parent.name, ucf_group(path.stem) or path.stem)
        for path in sorted(Path(root).glob("*/*"))
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES
    ]
