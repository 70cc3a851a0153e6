"""Detect the format of a source and read it: MP_Data, keypoint arrays, or CSV files."""

from __future__ import annotations

from pathlib import Path

from actionrec.data.importers.common import ACCEPTED_LAYOUTS, ImportFailure, ImportResult
from actionrec.data.importers.coords import read_coords_csv
from actionrec.data.importers.keypoints import is_keypoints, read_keypoints
from actionrec.data.importers.mpdata import is_mpdata, read_mpdata
from actionrec.data.importers.structure import Grouping

FORMATS = (
    "a .csv file, a folder of .csv files, an MP_Data folder (<action>/<sequence>/<frame>.npy) "
    "or a folder of class folders with (T, J, C) .npy/.npz arrays"
)


def _csvs(src: Path, grouping: Grouping, max_bad_share: float, name: str) -> ImportResult:
    files = sorted(src.rglob("*.csv")) if src.is_dir() else [src]
    results = [read_coords_csv(p, grouping, max_bad_share, name) for p in files]
    if len(results) == 1:
        return results[0]
    merged = ImportResult(
        src,
        "CSV files: " + ", ".join(sorted({r.format for r in results})),
        [],
        len(files),
        "; ".join(sorted({r.structure for r in results})),
    )
    for r in results:
        merged.recordings += r.recordings
        merged.skipped += r.skipped
        merged.notes += r.notes
        merged.copies += r.copies
        merged.independent_frames |= r.independent_frames
    return merged


def check_one_layout(result: ImportResult) -> None:
    """All recordings of one source must share a landmark layout."""
    by_layout: dict[str, str] = {}
    for rec in result.recordings:
        by_layout.setdefault(f"{rec.coords.shape[1]} landmarks ({rec.layout.value})", rec.source)
    if len(by_layout) > 1:
        found = "; ".join(f"{k} in e.g. {v}" for k, v in by_layout.items())
        raise ImportFailure(
            f"{result.source}: files of different landmark layouts: {found}; accepted: one of {ACCEPTED_LAYOUTS} "
            "for every file; remedy: import each layout into its own --name, or keep only the common landmarks"
        )


def read_source(
    src: Path,
    grouping: Grouping,
    max_bad_share: float,
    name: str,
    layout: str | None = None,
    skip_bad: bool = False,
    image_size: tuple[int, int] | None = None,
) -> ImportResult:
    """Read ``src`` in whichever format it is (:data:`FORMATS`), without writing anything.

    ``image_size`` (width, height in pixels) converts pixel keypoint arrays; other formats refuse it.
    """
    if not src.exists():
        raise ImportFailure(f"{src}: no such file or folder")
    if image_size is not None and not is_keypoints(src):
        raise ImportFailure(
            f"{src}: --image-size is for keypoint arrays in pixels (coco17, openpose_body25); remedy: drop it"
        )
    if src.is_file() and src.suffix.lower() == ".csv":
        result = _csvs(src, grouping, max_bad_share, name)
    elif is_mpdata(src):
        result = read_mpdata(src, name, grouping.fps, skip_bad)
    elif is_keypoints(src):
        result = read_keypoints(src, name, grouping.fps, layout, skip_bad, image_size)
    elif src.is_dir() and any(src.rglob("*.csv")):
        result = _csvs(src, grouping, max_bad_share, name)
    else:
        raise ImportFailure(f"{src}: not a format this import reads; expected {FORMATS}")
    if not result.recordings:
        raise ImportFailure(f"{src}: nothing to import ({'; '.join(result.skipped[:3]) or 'no data'})")
    check_one_layout(result)
    return result
