"""The usable corpus the split stage writes: exactly the usable clips, hard-linked, and the same
bytes while the usable set is unchanged (so DVC retrains nothing for an excluded clip)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from actionrec.config.validation import ClipValidationParams
from actionrec.data.corpus import extracted_index, load_recordings
from actionrec.data.usable import usable_ids, write_corpus
from tests.pipeline.conftest import tree_digest

PARAMS = ClipValidationParams(labels=["Nod"], min_frames=8, min_pose_rate=0.5)


def _extracted(root: Path, clips: dict[str, tuple[str, int, float]]) -> Path:
    """data/interim/landmarks-like folder: ``{clip: (status, n_frames, pose_rate)}``; ok clips get an npz."""
    rows = []
    for clip, (status, n, pose) in clips.items():
        rel = f"Nod/{clip}.npz" if status == "ok" else ""
        if rel:
            (root / "Nod").mkdir(parents=True, exist_ok=True)
            coords = np.full((n, 543, 4), 0.5, np.float32)
            np.savez(root / rel, coords=coords, frame_index=np.arange(n, dtype=np.int32), fps=25.0)
        message = "" if status == "ok" else f"{clip}.avi: cannot decode"
        rows.append(
            {
                "clip": clip,
                "label": "Nod",
                "group": clip,
                "path": rel,
                "status": status,
                "message": message,
                "n_frames": n,
                "pose_rate": pose,
                "face_rate": 0.25,
                "left_hand_rate": 0.0,
                "right_hand_rate": 0.0,
                "source": f"videos/Nod/{clip}.avi",
                "sha256": clip * 4,
            }
        )
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(root / "index.csv", index=False)
    return root


def test_corpus_holds_hard_links_of_exactly_the_usable_clips(tmp_path: Path) -> None:
    good = {"a": ("ok", 40, 0.9), "b": ("ok", 30, 1.0)}
    src = _extracted(tmp_path / "interim", {**good, "short": ("ok", 5, 0.9), "dark": ("ok", 40, 0.1)})
    keep = usable_ids(extracted_index(src), PARAMS)
    assert keep == {"a", "b"}
    dst = tmp_path / "corpus" / "landmarks"
    assert write_corpus(src, dst, keep) == 2
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()) == [
        "Nod/a.npz",
        "Nod/b.npz",
        "index.csv",
    ]
    assert (dst / "Nod/a.npz").stat().st_ino == (src / "Nod/a.npz").stat().st_ino
    assert list(extracted_index(dst)["clip"]) == ["a", "b"]
    assert sorted(r.session_id for r in load_recordings(tmp_path / "no-csvs", dst)) == ["a", "b"]
    assert not [p for p in dst.parent.iterdir() if p.name != "landmarks"], "no staging folder left behind"


def test_excluded_clips_leave_the_corpus_byte_identical_a_usable_one_changes_it(tmp_path: Path) -> None:
    good = {"a": ("ok", 40, 0.9), "b": ("ok", 30, 1.0)}
    dst = tmp_path / "corpus"
    write_corpus(_extracted(tmp_path / "v1", good), dst, {"a", "b"})
    before = tree_digest(dst)
    bad = {"broken": ("decode_error", 0, 0.0), "short": ("ok", 5, 0.9)}
    src = _extracted(tmp_path / "v2", {"a": good["a"], **bad, "b": good["b"]})
    write_corpus(src, dst, usable_ids(extracted_index(src), PARAMS))
    assert (src / "index.csv").read_bytes() != (tmp_path / "v1" / "index.csv").read_bytes()
    assert tree_digest(dst) == before
    src = _extracted(tmp_path / "v3", {**good, "c": ("ok", 12, 0.8)})
    write_corpus(src, dst, usable_ids(extracted_index(src), PARAMS))
    assert tree_digest(dst) != before and list(extracted_index(dst)["clip"]) == ["a", "b", "c"]
