"""The raw video tree (UCF101 layout): listing clips and importing a subset of UCF101."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from actionrec.data.clips import VIDEO_SUFFIXES, ClipRef, discover_clips
from actionrec.data.landmarks import DataError

log = logging.getLogger(__name__)

SPLIT_FILES = ("classInd.txt", *(f"{k}list0{i}.txt" for k in ("train", "test") for i in (1, 2, 3)))


def list_clips(videos_dir: Path, labels: list[str]) -> list[ClipRef]:
    """Every clip under ``videos_dir/<Class>/``, sorted; an unknown class folder is an error."""
    if not videos_dir.is_dir():
        return []
    folders = sorted(p for p in videos_dir.iterdir() if p.is_dir())
    unknown = [p.name for p in folders if p.name not in labels]
    if unknown:
        raise DataError(
            f"{videos_dir}: class folders {unknown} are not in data.labels {labels}; "
            "add them to params.yaml or remove the folders"
        )
    return discover_clips(videos_dir)


def _listed(line: str) -> str:
    """The class (classInd.txt) or clip path (train/test lists) a split-list line names."""
    return line.split()[-1] if "/" not in line else line.split()[0]


def import_ucf101(src: Path, splits: Path | None, dest: Path, classes: list[str]) -> int:
    """Copy the clips of ``classes`` into ``dest``, with the split lists filtered to them."""
    copied: set[str] = set()
    for cls in classes:
        folder = src / cls
        if not folder.is_dir():
            raise DataError(f"{src}: no folder for class {cls!r}")
        (dest / cls).mkdir(parents=True, exist_ok=True)
        for clip in sorted(folder.iterdir()):
            if clip.suffix.lower() in VIDEO_SUFFIXES:
                shutil.copy2(clip, dest / cls / clip.name)
                copied.add(f"{cls}/{clip.name}")
    split_lists = [splits / name for name in SPLIT_FILES] if splits is not None else []
    for path in (p for p in split_lists if p.is_file()):
        wanted = set(classes) if path.name == "classInd.txt" else copied
        keep = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and _listed(ln.strip()) in wanted]
        (dest / path.name).write_text("\n".join(keep) + "\n")
    log.info("imported %d clips of %d classes into %s", len(copied), len(classes), dest)
    return len(copied)
