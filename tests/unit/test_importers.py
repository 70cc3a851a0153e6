"""`actionrec import`: every accepted format round-trips; every bad input is named with a remedy.

Fixtures are generated here (small); the source folders are hashed before and after each import.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml

from actionrec.cli import main
from actionrec.core.schema import CHANNELS, Layout, part_slice
from actionrec.core.schema import Part as P
from actionrec.data.importers.common import ImportFailure, write_sessions
from actionrec.data.importers.detect import read_source
from actionrec.data.importers.mpdata import frame_to_landmarks
from actionrec.data.importers.structure import Grouping
from actionrec.data.landmarks import landmark_csvs, read_landmark_csv, recordings_from_file
from tests.conftest import REPO
from tests.pipeline.conftest import tree_digest

RNG = np.random.default_rng(7)
LABELS = ["Lean", "Nod"]


def _coords(n: int, layout: Layout, rng: np.random.Generator = RNG) -> np.ndarray:
    """float32 (n, landmarks, 4) in [0, 1]; the face of frame 1 and the left hand of frame 2 missing."""
    out = rng.uniform(0.1, 0.9, (n, layout.n_landmarks, 4)).astype(np.float32)
    if P.FACE in layout.parts:
        out[1, part_slice(P.FACE)] = np.nan
    if P.LEFT_HAND in layout.parts:
        out[2, part_slice(P.LEFT_HAND)] = np.nan
    return out


def _write_coords_csv(
    path: Path,
    blocks: list[tuple[str, np.ndarray]],
    vis: str = "v",
    index: bool = False,
    extra: dict[str, list[str]] | None = None,
) -> None:
    n = blocks[0][1].shape[1]
    names = [f"{c if c != 'v' else vis}{i}" for i in range(1, n + 1) for c in CHANNELS]
    header = ([""] if index else []) + ["class", *names] + list(extra or {})
    rows, k = [], 0
    for label, coords in blocks:
        for frame in coords:
            cells = ["" if np.isnan(v) else repr(float(v)) for v in frame.ravel()]
            meta = [str(k)] if index else []
            rows.append([*meta, label, *cells, *[vals[k] for vals in (extra or {}).values()]])
            k += 1
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])


def _import(src: Path, dest: Path, grouping: Grouping | None = None, **kw: object):
    before = tree_digest(src if src.is_dir() else src.parent)
    result = read_source(src, grouping or Grouping(), 0.05, "t", **kw)  # type: ignore[arg-type]
    write_sessions(result, dest)
    assert tree_digest(src if src.is_dir() else src.parent) == before
    back = [r for p in landmark_csvs(dest) for r in recordings_from_file(read_landmark_csv(p))]
    return result, {r.session_id: r for r in back}


def _same(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(np.nan_to_num(a, nan=-9), np.nan_to_num(b, nan=-9))


@pytest.mark.parametrize("layout", list(Layout))
@pytest.mark.parametrize(("vis", "index", "extra"), [("v", False, False), ("visibility", True, True)])
def test_coords_csv_variants_round_trip(tmp_path: Path, layout: Layout, vis: str, index: bool, extra: bool) -> None:
    src = tmp_path / "src"
    src.mkdir()
    a, b = _coords(12, layout), _coords(9, layout)
    meta = {"video": [f"v{i}" for i in range(21)], "score": ["1"] * 21} if extra else None
    _write_coords_csv(src / "coords.csv", [("Lean", a), ("Nod", b)], vis=vis, index=index, extra=meta)
    result, back = _import(src / "coords.csv", tmp_path / "out")
    assert result.classes == {"Lean": 1, "Nod": 1} and len(back) == 2
    lean, nod = sorted(back.values(), key=lambda r: r.label)
    _same(lean.coords, a)
    _same(nod.coords, b)
    assert lean.layout is layout and not result.skipped
    if index:
        assert any("index column" in n for n in result.notes)
    if extra:
        assert any("video" in n and "score" in n for n in result.notes)


def test_session_column_groups_rows(tmp_path: Path) -> None:
    a = _coords(20, Layout.POSE)
    labels = ["Lean", "Nod"] * 10  # interleaved: no contiguous runs
    path = tmp_path / "src" / "frames.csv"
    path.parent.mkdir()
    _write_coords_csv(
        path,
        [(lab, a[i : i + 1]) for i, lab in enumerate(labels)],
        extra={"video": [f"clip{i % 4}" for i in range(20)]},
    )
    result, back = _import(path, tmp_path / "out", Grouping(session_column="video"))
    assert sorted(back) == ["t-clip0", "t-clip1", "t-clip2", "t-clip3"]
    _same(back["t-clip1"].coords, a[1::4])
    assert result.structure == "grouped by the column video"
    assert ": 1 file, 4 recordings, 20 frames" in result.summary()


def test_interleaved_frames_without_sessions_are_explained(tmp_path: Path) -> None:
    a = _coords(30, Layout.POSE)
    path = tmp_path / "src" / "frames.csv"
    path.parent.mkdir()
    _write_coords_csv(path, [(["Lean", "Nod", "Nod"][i % 3], a[i : i + 1]) for i in range(30)])
    with pytest.raises(ImportFailure) as err:
        read_source(path, Grouping(), 0.05, "t")
    msg = str(err.value)
    assert str(path) in msg and "no recording structure" in msg and "leak-free split" in msg
    assert all(opt in msg for opt in ("--session-column", "--per-file", "--independent-frames"))
    result, back = _import(path, tmp_path / "out", Grouping(per_file=True))
    assert sorted(r.label for r in back.values()) == ["Lean", "Nod"] and len(back["t-frames-Nod"]) == 20
    result = read_source(path, Grouping(independent_frames=True), 0.05, "t")
    assert result.independent_frames and "independent frames" in result.structure


def _mp_frame(rng: np.random.Generator, lh: bool, rh: bool) -> np.ndarray:
    v = rng.uniform(0.1, 0.9, 1662)
    if not lh:
        v[1536:1599] = 0
    if not rh:
        v[1599:] = 0
    return v


def _mp_data(root: Path, actions: dict[str, int], frames: int = 6) -> dict[tuple[str, int], np.ndarray]:
    out = {}
    for action, n_seq in actions.items():
        for s in range(n_seq):
            seq = root / action / str(s)
            seq.mkdir(parents=True)
            vs = [_mp_frame(RNG, f % 2 == 0, f % 3 != 0) for f in range(frames)]
            for f, v in enumerate(vs):
                np.save(seq / f"{f}.npy", v)
            out[(action, s)] = np.stack(vs)
    return out


def test_mp_data_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "MP_Data"
    data = _mp_data(src, {"Lean": 2, "Nod": 3})
    result, back = _import(src, tmp_path / "out")
    assert len(back) == 5 and result.files_read == 30 and result.classes == {"Lean": 2, "Nod": 3}
    rec = back["t-Nod-2"]
    vec = data[("Nod", 2)]
    pose = rec.coords[:, part_slice(P.POSE)]
    np.testing.assert_array_equal(pose, vec[:, :132].reshape(-1, 33, 4).astype(np.float32))
    np.testing.assert_array_equal(
        rec.coords[:, part_slice(P.FACE), :3], vec[:, 132:1536].reshape(-1, 468, 3).astype(np.float32)
    )
    assert np.all(rec.coords[:, part_slice(P.FACE), 3] == 1.0)
    lh_missing = np.isnan(rec.coords[:, part_slice(P.LEFT_HAND)]).all(axis=(1, 2))
    np.testing.assert_array_equal(lh_missing, [f % 2 == 1 for f in range(6)])
    assert "left_hand 50%" in result.summary() and "right_hand 67%" in result.summary()
    _same(rec.coords, np.stack([frame_to_landmarks(v) for v in vec]))


@pytest.mark.parametrize(("shape", "layout"), [((8, 33, 4), None), ((7, 33, 2), "mediapipe_pose"), ((5, 543, 3), None)])
def test_keypoint_arrays_round_trip(tmp_path: Path, shape: tuple[int, int, int], layout: str | None) -> None:
    src = tmp_path / "arrays"
    (src / "Lean").mkdir(parents=True)
    (src / "Nod").mkdir()
    arrays = {"Lean": RNG.uniform(0.1, 0.9, shape), "Nod": RNG.uniform(0.1, 0.9, shape)}
    arrays["Nod"][1] = 0  # no person in frame 1
    np.save(src / "Lean" / "a.npy", arrays["Lean"])
    np.savez(src / "Nod" / "b.npz", keypoints=arrays["Nod"])
    result, back = _import(src, tmp_path / "out", layout=layout)
    lean, nod = back["t-Lean-a"], back["t-Nod-b"]
    c = shape[2]
    np.testing.assert_array_equal(lean.coords[..., :c], arrays["Lean"].astype(np.float32))
    assert np.isnan(nod.coords[1]).all() and not np.isnan(nod.coords[0]).any()
    if c < 4:
        assert np.all(lean.coords[..., 3] == 1.0) and any("visibility 1.0" in n for n in result.notes)


def test_own_session_csv_copied_byte_for_byte(tmp_path: Path) -> None:
    from actionrec.data.demo.landmarks import generate_demo_landmarks

    src = generate_demo_landmarks(tmp_path / "demo", subjects=1, n_frames=20)[0]
    result, back = _import(src, tmp_path / "out")
    assert result.format == "session CSV (ours)"
    assert (tmp_path / "out" / src.name).read_bytes() == src.read_bytes()


def _fails(src: Path, dest: Path, *parts: str, **kw: object) -> str:
    """The import fails naming every one of ``parts``; source and destination untouched."""
    before = tree_digest(src if src.is_dir() else src.parent)
    with pytest.raises(ImportFailure) as err:
        write_sessions(read_source(src, Grouping(), 0.05, "t", **kw), dest)  # type: ignore[arg-type]
    assert tree_digest(src if src.is_dir() else src.parent) == before and not dest.exists()
    msg = str(err.value)
    for part in parts:
        assert part in msg, msg
    return msg


def test_bad_inputs_named_with_file_and_remedy(tmp_path: Path) -> None:
    out = tmp_path / "out"
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    _write_coords_csv(mixed / "a.csv", [("Lean", _coords(10, Layout.POSE))])
    _write_coords_csv(mixed / "b.csv", [("Nod", _coords(10, Layout.HOLISTIC))])
    _fails(mixed, out, "different landmark layouts", "33 landmarks", "501 landmarks", str(mixed / "a.csv"), "remedy")

    odd = tmp_path / "odd.csv"
    _write_coords_csv(odd, [("Lean", RNG.uniform(0, 1, (10, 66, 4)).astype(np.float32))])
    _fails(odd, out, str(odd), "66 landmarks per row", "accepted", "remedy")

    mp = tmp_path / "MP_Data"
    _mp_data(mp, {"Lean": 2})
    (mp / "Lean" / "1" / "3.npy").write_bytes((mp / "Lean" / "1" / "3.npy").read_bytes()[:200])
    _fails(mp, out, str(mp / "Lean" / "1" / "3.npy"), "not a readable .npy", "remedy")
    (mp / "Lean" / "1" / "3.npy").unlink()
    _fails(mp, out, str(mp / "Lean" / "1"), "frame numbers [3] missing", "remedy")
    result = read_source(mp, Grouping(), 0.05, "t", skip_bad=True)
    assert len(result.recordings) == 1 and "frame numbers [3] missing" in result.skipped[0]

    (mp / "Nod").mkdir()
    result = read_source(mp, Grouping(), 0.05, "t", skip_bad=True)
    assert any(str(mp / "Nod") in s and "empty class folder" in s for s in result.skipped)

    nan = _coords(40, Layout.POSE)
    nan[[3, 4, 5], 7, 0] = np.nan  # NaN inside a detected pose: 3 bad rows of 40 > 5 %
    bad_csv = tmp_path / "nan.csv"
    _write_coords_csv(bad_csv, [("Lean", nan)])
    _fails(
        bad_csv,
        out,
        str(bad_csv),
        "3 of 40 rows are bad",
        "data row 4",
        "empty values inside the detected pose",
        "max_bad_row_share",
        "remedy",
    )
    nan[[4, 5], 7, 0] = 0.5  # one bad row of 40 is under the threshold: excluded and counted
    _write_coords_csv(bad_csv, [("Lean", nan)])
    result = read_source(bad_csv, Grouping(), 0.05, "t")
    assert len(result.recordings[0]) == 39 and result.skipped == [
        f"{bad_csv} data row 4: 1 empty values inside the detected pose"
    ]


def _params(tmp_path: Path, labels: list[str]) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["labels"] = labels
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_cli_label_not_in_params_named_with_remedy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mp = tmp_path / "MP_Data"
    _mp_data(mp, {"Lean": 1, "Wave": 1})
    dest = tmp_path / "landmarks"
    before = tree_digest(mp)
    rc = main(["import", str(mp), "--dest", str(dest), "--params", str(_params(tmp_path, LABELS))])
    out, err = capsys.readouterr()
    assert rc == 0 and tree_digest(mp) == before
    assert sorted(p.name for p in (dest / "MP_Data").iterdir()) == ["MP_Data-Lean-0.csv", "MP_Data-Wave-0.csv"]
    assert "2 recordings, 12 frames" in out and f"dvc add {dest}" in out
    assert "'Wave'" in err and str(mp / "Wave" / "0") in err and "-S 'data.labels=[Lean,Wave]'" in err
    assert "'Lean'" not in err
    rc = main(["import", str(mp), "--dest", str(dest), "--params", str(_params(tmp_path, ["Lean", "Wave"]))])
    out, err = capsys.readouterr()
    assert rc == 1 and "already holds files" in err and "nothing was written" in err
    rc = main(["import", str(mp), "--dest", str(dest), "--force", "--params", str(_params(tmp_path, ["Lean", "Wave"]))])
    assert rc == 0 and "labels not in" not in capsys.readouterr().err


# MediaPipe pose index of each joint, in the estimator's order (None: no MediaPipe landmark)
MP_INDEX = {
    "coco17": [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28],
    "openpose_body25": [
        0, None, 12, 14, 16, 11, 13, 15, None, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7, 31, None, 29, 32, None, 30
    ],
}  # fmt: skip
NOSE, LEFT_WRIST, LEFT_PINKY, MOUTH_LEFT, LEFT_ANKLE, LEFT_HEEL = 0, 15, 17, 9, 27, 29


def _estimator_arrays(src: Path, joints: int, channels: int, size: tuple[int, int] | None) -> dict[str, np.ndarray]:
    """One (24, joints, channels) array per class; undetected joints: (0, 0, 0) in frame 5 of joint 3, NaN in
    frame 0 of joint 1; joint 2 scored 0 in frame 4; class Nod has no person in frame 7."""
    scale = np.array(size or (1, 1), dtype=np.float64)
    out = {}
    for label in LABELS:
        xy = RNG.uniform(0.15, 0.85, (24, joints, 2)) * scale
        arr = np.concatenate([xy, RNG.uniform(0.3, 1.0, (24, joints, 1))], axis=2)[..., :channels]
        arr[5, 3] = 0
        arr[0, 1] = np.nan
        if channels == 3:
            arr[4, 2, 2] = 0.0
        if label == "Nod":
            arr[7] = 0
        (src / label).mkdir(parents=True)
        np.save(src / label / "s.npy", arr)
        out[label] = arr
    return out


@pytest.mark.parametrize(
    ("layout", "channels", "size"),
    [("coco17", 3, (640, 480)), ("openpose_body25", 3, (1920, 1080)), ("openpose_body25", 2, None)],
)
def test_estimator_layouts_round_trip(tmp_path: Path, layout: str, channels: int, size: tuple[int, int] | None) -> None:
    from actionrec.config.validation import ValidationParams
    from actionrec.core.features import FeatureSpec, transform
    from actionrec.data.validation.landmarks import validate_landmark_csvs

    mp_index = MP_INDEX[layout]
    src, dest = tmp_path / "kp", tmp_path / "out"
    arrays = _estimator_arrays(src, len(mp_index), channels, size)
    result, back = _import(src, dest, image_size=size)  # the layout found from J
    assert result.format == f"keypoint arrays (T, J, C) of layout {layout}"
    norm = np.array(size or (1, 1), dtype=np.float64)
    mapped = [m for m in mp_index if m is not None]
    for label, arr in arrays.items():
        coords = back[f"t-{label}-s"].coords
        person = np.ones(24, bool)
        person[7] = label != "Nod"
        assert np.isnan(coords[~person]).all() and not np.isnan(coords[person]).any()
        assert np.all(coords[person, :, 2] == 0)
        want_xy = (arr[..., :2] / norm).astype(np.float32)
        want_vis = arr[..., 2].astype(np.float32) if channels == 3 else np.ones((24, len(mp_index)), np.float32)
        seen = person[:, None] & ~np.isnan(arr).any(axis=2) & np.any(arr[..., :2] != 0, axis=2)
        for j, m in enumerate(mp_index):
            if m is None:
                continue
            np.testing.assert_array_equal(coords[seen[:, j], m, :2], want_xy[seen[:, j], j])
            np.testing.assert_array_equal(coords[seen[:, j], m, 3], want_vis[seen[:, j], j])
        # undetected: carried from the last frame seen (frame 0: from the first one), visibility 0
        np.testing.assert_array_equal(coords[5, mp_index[3], :2], want_xy[4, 3])
        assert coords[5, mp_index[3], 3] == 0
        if (first := mp_index[1]) is not None:  # BODY_25's joint 1 (Neck) has no landmark
            np.testing.assert_array_equal(coords[0, first, :2], want_xy[1, 1])
            assert coords[0, first, 3] == 0
        if channels == 3:  # a score of 0 keeps the estimator's position
            assert coords[4, mp_index[2], 3] == 0 and np.all(coords[4, mp_index[2], :2] == want_xy[4, 2])
        # landmarks the layout lacks: at the nearest joint it has, visibility 0
        lacking = [m for m in range(33) if m not in mapped]
        assert np.all(coords[person][:, lacking, 3] == 0)
        np.testing.assert_array_equal(
            coords[person, LEFT_PINKY], np.insert(coords[person, LEFT_WRIST, :3], 3, 0, axis=1)
        )
        np.testing.assert_array_equal(coords[person, MOUTH_LEFT, :2], coords[person, NOSE, :2])
        heel = LEFT_ANKLE if layout == "coco17" else LEFT_HEEL
        np.testing.assert_array_equal(coords[person, LEFT_HEEL, :2], coords[person, heel, :2])
        for spec in (FeatureSpec(kind="body_centred"), FeatureSpec(kind="body_aligned", trajectory=True)):
            feats = transform(coords, spec)
            assert feats.shape == (24, spec.n_features) and np.isfinite(feats).all()
            assert np.all(np.abs(feats[person]).sum(axis=1) > 0)
    carried = 2 * (2 if mp_index[1] is not None else 1)
    summary = result.summary()
    assert f"note: {carried} undetected joint positions (x = y = 0 or NaN)" in summary
    assert "left_pinky <- left_wrist" in summary and "visibility 0" in summary
    assert (layout == "coco17") == ("left_heel <- left_ankle" in summary)
    assert (layout == "openpose_body25") == ("left out: Neck, MidHip, LSmallToe, RSmallToe" in summary)
    assert (channels == 3) == ("score written as visibility" in summary)
    assert (f"x / {size[0]}, y / {size[1]}" in summary) if size else ("--image-size" not in summary)
    reports = validate_landmark_csvs(dest, ValidationParams(labels=LABELS, max_missing_pose_share=1 / 24))
    assert len(reports) == 2 and all(r.success for r in reports), [r.failures() for r in reports]


def test_estimator_layout_mistakes_refused_with_the_remedy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pixels = tmp_path / "pixels"
    _estimator_arrays(pixels, 17, 3, (640, 480))
    dest = tmp_path / "landmarks"
    rc = main(["import", str(pixels), "--dest", str(dest), "--params", str(_params(tmp_path, LABELS))])
    err = capsys.readouterr().err.splitlines()
    assert rc == 1 and not dest.exists()
    assert err[0].startswith(f"actionrec import: {pixels / 'Lean' / 's.npy'}: x/y up to ")
    assert "look like pixels" in err[0] and "remedy: pass --image-size WxH" in err[0]
    rc = main(["import", str(pixels), "--dest", str(dest), "--params", str(_params(tmp_path, LABELS)),
               "--image-size", "640x480"])  # fmt: skip
    assert rc == 0 and len(list((dest / "pixels").iterdir())) == 2
    _fails(pixels, tmp_path / "o", "after dividing by --image-size 64x48", "remedy", image_size=(64, 48))

    normal = tmp_path / "normal"
    _estimator_arrays(normal, 25, 3, None)
    _fails(normal, tmp_path / "o", str(normal / "Lean" / "s.npy"), "normalised already", "drop --image-size",
           image_size=(640, 480))  # fmt: skip
    _fails(normal, tmp_path / "o", "25 joints, layout coco17 has 17", "remedy", "openpose_body25 (J=25)",
           layout="coco17")  # fmt: skip
    _fails(normal, tmp_path / "o", "--layout coco18: unknown", "coco17 (J=17)", layout="coco18")
    odd = tmp_path / "odd"
    (odd / "Lean").mkdir(parents=True)
    np.save(odd / "Lean" / "s.npy", RNG.uniform(0.1, 0.9, (6, 18, 3)))
    _fails(odd, tmp_path / "o", "18 joints match no accepted layout", "coco17 (J=17)", "--layout NAME")
    np.save(odd / "Lean" / "s.npy", RNG.uniform(0.1, 0.9, (6, 17, 4)))
    _fails(odd, tmp_path / "o", "C = 4, but coco17 arrays are (x, y) or (x, y, score)", "remedy")
    np.save(odd / "Lean" / "s.npy", RNG.uniform(0.1, 0.9, (6, 17, 3)))
    (odd / "Nod").mkdir()
    np.save(odd / "Nod" / "s.npy", RNG.uniform(0.1, 0.9, (6, 33, 3)))  # 33 landmarks too, another layout
    _fails(odd, tmp_path / "o", "different layouts", f"coco17 in e.g. {odd / 'Lean' / 's.npy'}", "mediapipe_pose in")


def test_import_help_lists_every_layout(capsys: pytest.CaptureFixture[str]) -> None:
    from actionrec.data.importers.keypoints import ALL_LAYOUTS

    with pytest.raises(SystemExit):
        main(["import", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name, layout in ALL_LAYOUTS.items():
        assert f"{name} (" in text and str(layout.n_landmarks) in text
    assert "--image-size WxH" in text


def test_estimator_pose_without_landmark_joints_is_no_person() -> None:
    from collections import Counter

    from actionrec.data.importers.layouts import ESTIMATOR_LAYOUTS, estimator_pose

    arr = np.zeros((3, 25, 3))
    arr[0, 1] = (0.5, 0.5, 0.9)  # BODY_25 Neck alone: no MediaPipe landmark, no person
    arr[1, 0] = (0.4, 0.3, 1.2)  # the nose alone, scored above 1
    stats: Counter[str] = Counter()
    pose = estimator_pose(arr, ESTIMATOR_LAYOUTS["openpose_body25"], None, Path("s.npy"), stats)
    assert np.isnan(pose[[0, 2]]).all() and not np.isnan(pose[1]).any()
    assert np.all(pose[1, :, :2] == np.float32([0.4, 0.3])) and pose[1, 0, 3] == 1.0 and pose[1, 1:, 3].max() == 0
    assert stats["clipped"] == 1 and stats["never_seen"] == 20  # the 21 joints with a landmark but the nose
