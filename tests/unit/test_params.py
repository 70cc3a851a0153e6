"""params.yaml: the repository's file loads; every kind of mistake fails naming the key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from actionrec.params import Params, ParamsError, load_params


@pytest.fixture
def raw(repo: Path) -> dict:
    return yaml.safe_load((repo / "params.yaml").read_text())


def write(tmp_path: Path, data: dict | str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_repo_params_load(repo: Path, raw: dict) -> None:
    params = load_params(repo / "params.yaml")
    assert isinstance(params, Params)
    assert params.seed == raw["seed"]
    assert params.data.labels == raw["data"]["labels"]
    assert params.classical.rf.n_estimators == raw["classical"]["rf"]["n_estimators"]
    assert params.split.purge_frames == raw["split"]["purge_frames"]
    assert params.features.kind == raw["features"]["kind"]
    assert params.lstm.window == raw["lstm"]["window"]
    # the label map is filled into both validation sections from data.labels
    assert list(params.validate_.landmarks.labels) == raw["data"]["labels"]
    assert list(params.validate_.clips.labels) == raw["data"]["labels"]


def test_round_trip_through_tmp(tmp_path: Path, raw: dict) -> None:
    assert load_params(write(tmp_path, raw)).seed == raw["seed"]


def test_wrong_type_names_the_key(tmp_path: Path, raw: dict) -> None:
    raw["classical"]["rf"]["n_estimators"] = "many"
    with pytest.raises(ParamsError, match=r"classical\.rf\.n_estimators.*'many'") as err:
        load_params(write(tmp_path, raw))
    assert str(tmp_path / "params.yaml") in str(err.value)


def test_out_of_range_value_names_the_key(tmp_path: Path, raw: dict) -> None:
    raw["split"]["test_size"] = 1.5
    with pytest.raises(ParamsError, match=r"split\.test_size"):
        load_params(write(tmp_path, raw))


def test_bad_literal_names_the_key(tmp_path: Path, raw: dict) -> None:
    raw["features"]["kind"] = "centred"
    with pytest.raises(ParamsError, match=r"features\.kind"):
        load_params(write(tmp_path, raw))


@pytest.mark.parametrize(
    ("section", "key"),
    [((), "sed"), (("classical", "rf"), "n_estimator"), (("split",), "purge")],
)
def test_unknown_key_is_named(tmp_path: Path, raw: dict, section: tuple[str, ...], key: str) -> None:
    node = raw
    for name in section:
        node = node[name]
    node[key] = 1
    dotted = ".".join([*section, key]).replace(".", r"\.")
    with pytest.raises(ParamsError, match=rf"{dotted}: Extra inputs are not permitted"):
        load_params(write(tmp_path, raw))


def test_missing_required_section(tmp_path: Path, raw: dict) -> None:
    del raw["data"]
    with pytest.raises(ParamsError, match=r"\bdata: Field required"):
        load_params(write(tmp_path, raw))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match=r"nope\.yaml: not found"):
        load_params(tmp_path / "nope.yaml")


def test_invalid_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "seed: 42\ndata: {labels: [a, b]\n  split: [\n")
    with pytest.raises(ParamsError, match=r"params\.yaml: not valid YAML"):
        load_params(path)


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "42\n"])
def test_not_a_mapping(tmp_path: Path, text: str) -> None:
    with pytest.raises(ParamsError, match="mapping"):
        load_params(write(tmp_path, text))


@pytest.mark.parametrize("section", ["landmarks", "clips"])
def test_labels_in_validate_section_refused(tmp_path: Path, raw: dict, section: str) -> None:
    raw["validate"][section]["labels"] = ["a", "b"]
    with pytest.raises(ParamsError, match=rf"validate\.{section}\.labels: remove it"):
        load_params(write(tmp_path, raw))


def test_duplicate_labels(tmp_path: Path, raw: dict) -> None:
    raw["data"]["labels"] = ["Nod", "Shake", "Nod"]
    with pytest.raises(ParamsError, match=r"data.labels: .*labels must be unique"):
        load_params(write(tmp_path, raw))


def test_single_label_refused(tmp_path: Path, raw: dict) -> None:
    raw["data"]["labels"] = ["Nod"]
    with pytest.raises(ParamsError, match=r"data\.labels"):
        load_params(write(tmp_path, raw))


def test_params_error_is_value_error() -> None:
    assert issubclass(ParamsError, ValueError)


@pytest.mark.parametrize("fusion", [["classical-pooled-rf"], ["lstm", "lstm"]])
def test_fusion_needs_two_distinct_models(tmp_path: Path, raw: dict, fusion: list[str]) -> None:
    raw["evaluate"]["fusion"] = fusion
    with pytest.raises(ParamsError, match=r"evaluate\.fusion: .*two or more distinct"):
        load_params(write(tmp_path, raw))


def test_uniform_sampling_needs_max_frames(tmp_path: Path, raw: dict) -> None:
    raw["extract_landmarks"].update(sampling="uniform", max_frames=None)
    with pytest.raises(ParamsError, match=r"extract_landmarks: .*uniform' needs max_frames"):
        load_params(write(tmp_path, raw))
