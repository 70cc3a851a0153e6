"""What every importer shares: the result of reading, the summary printed, and the one writer.

An importer turns someone else's files into :class:`~actionrec.core.recording.Recording` objects
and an :class:`ImportResult` (what it read, what it skipped and why). :func:`write_sessions`
writes them as our session CSVs into a staging folder that replaces the destination only when
every file was written: a failed import leaves the destination and the source as they were.
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from actionrec.core.io import swap_dir, temp_sibling
from actionrec.core.recording import Recording
from actionrec.core.schema import Part, part_slice, session_columns

ACCEPTED_LAYOUTS = "33 (pose), 501 (pose + face) or 543 (pose + face + both hands) landmarks, in MediaPipe order"


class ImportFailure(ValueError):
    """Input that cannot be imported; the message names the file, the problem and the remedy."""


@dataclass
class ImportResult:
    """What an importer read from one source."""

    source: Path
    format: str
    recordings: list[Recording]
    files_read: int
    structure: str  # how rows/frames were grouped into recordings, in plain words
    skipped: list[str] = field(default_factory=list)  # "<file>: <why>"
    notes: list[str] = field(default_factory=list)
    copies: list[Path] = field(default_factory=list)  # session CSVs copied as they are
    independent_frames: bool = False

    @property
    def classes(self) -> Counter[str]:
        return Counter(r.label for r in self.recordings)

    def summary(self) -> str:
        recs = self.recordings
        frames = sum(len(r) for r in recs)
        layouts = sorted({r.layout.value for r in recs})
        lines = [
            f"read {self.source} as {self.format}: {_count(self.files_read, 'file')}, "
            f"{_count(len(recs), 'recording')}, {_count(frames, 'frame')}",
            f"  layout: {', '.join(layouts) or '-'}",
            "  classes: " + ", ".join(f"{k} ({_count(v, 'recording')})" for k, v in sorted(self.classes.items())),
            f"  recordings: {self.structure}",
        ]
        if recs:
            lines.append(f"  frames without a person (no pose): {_no_pose(recs)} of {frames}")
            lines.append("  detected per part: " + _detection_rates(recs))
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  could not read {s}" for s in self.skipped]
        return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _no_pose(recs: list[Recording]) -> int:
    pose = part_slice(Part.POSE).start
    return int(sum(np.isnan(r.coords[:, pose, 0]).sum() for r in recs))


def _detection_rates(recs: list[Recording]) -> str:
    parts = [p for p in Part if part_slice(p).stop <= recs[0].coords.shape[1]]
    total = sum(len(r) for r in recs)
    rates = []
    for p in parts:
        found = sum(int((~np.isnan(r.coords[:, part_slice(p).start, 0])).sum()) for r in recs)
        rates.append(f"{p.value} {100 * found / max(total, 1):.0f}%")
    return ", ".join(rates)


def label_warning(result: ImportResult, labels: list[str], params_path: Path) -> str | None:
    """Classes missing from ``data.labels``: one line naming a file of each and the remedy, else None."""
    unknown = sorted(set(result.classes) - set(labels))
    if not unknown:
        return None
    where = {u: next(r.source for r in result.recordings if r.label == u) for u in unknown}
    named = "; ".join(f"'{u}' (e.g. {where[u]})" for u in unknown)
    wanted = ",".join(sorted(result.classes))
    return (
        f"labels not in data.labels of {params_path}: {named}; validate fails until they are listed: set data.labels "
        f"in {params_path}, or run dvc exp run -S 'data.labels=[{wanted}]'"
    )


def _cells(values: np.ndarray) -> list[str]:
    """float32 values as the shortest text that reads back to the same float32; NaN as empty."""
    return ["" if v != v else format(v, ".9g") for v in values.astype(np.float32).tolist()]


def write_session_csv(path: Path, rec: Recording) -> None:
    """One recording as our session CSV (``class, session_id, subject_id, frame, timestamp, x1...``)."""
    flat = rec.coords.reshape(len(rec), -1)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(session_columns(rec.layout))
        for i in range(len(rec)):
            meta = [rec.label, rec.session_id, rec.subject_id or "", int(rec.frames[i]), f"{rec.timestamps[i]:.6g}"]
            writer.writerow([*meta, *_cells(flat[i])])


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("._") or "x"


def write_sessions(result: ImportResult, dest: Path, force: bool = False) -> Path:
    """Write every recording (and copied session CSV) to ``dest`` all at once; returns ``dest``."""
    if dest.exists() and any(dest.iterdir()) and not force:
        raise ImportFailure(f"{dest}: already holds files; remedy: choose another --name or pass --force to replace it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = temp_sibling(dest)
    staging.mkdir()
    try:
        names: set[str] = set()
        copied = {str(p) for p in result.copies}
        for rec in (r for r in result.recordings if r.source not in copied):
            name = safe_name(rec.session_id) + ".csv"
            if name in names:
                raise ImportFailure(f"{rec.source}: session {rec.session_id} appears twice; session ids must be unique")
            names.add(name)
            write_session_csv(staging / name, rec)
        for src in result.copies:
            if src.name in names:
                raise ImportFailure(f"{src}: a second file named {src.name}; rename one of them")
            names.add(src.name)
            shutil.copyfile(src, staging / src.name)
        swap_dir(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest
