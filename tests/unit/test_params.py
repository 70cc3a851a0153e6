"""params.yaml: the repository's file loads, holds every key, survives DVC's `-S`; every kind of
mistake fails naming the key."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from actionrec.config.params import Params, ParamsError, load_params


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


# --------------------------------------------------------------------------- the only source


def leaf_keys(model: type[BaseModel], prefix: str = "") -> dict[str, FieldInfo]:
    """Every leaf field of a params model, by dotted key (nested models followed)."""
    out = {}
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        nested = (
            field.annotation if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel) else None
        )
        out |= leaf_keys(nested, f"{key}.") if nested else {key: field}
    return out


def at(data: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data[part]
    return data


# filled in by Params from data.labels and the top-level seed; params.yaml must not repeat them
DERIVED = {
    "validate.landmarks.labels",
    "validate.clips.labels",
    "lstm.train.seed",
    "tcn.train.seed",
    "convlstm.cpu.train.seed",
    "convlstm.gpu.train.seed",
}


def test_every_key_of_the_models_is_in_params_yaml(raw: dict) -> None:
    missing = []
    for key in set(leaf_keys(Params)) - DERIVED:
        try:
            at(raw, key)
        except KeyError:
            missing.append(key)
    assert not missing, f"params.yaml lacks {sorted(missing)}: add each with its value and a comment"


def test_every_code_default_equals_params_yaml(raw: dict) -> None:
    params = Params.model_validate(raw)
    differ = {}
    for key, field in leaf_keys(Params).items():
        if field.is_required():
            continue
        default = field.get_default(call_default_factory=True)
        value = at(params.model_dump(by_alias=True), key)
        if TypeAdapter(field.annotation).dump_python(default, mode="json") != TypeAdapter(field.annotation).dump_python(
            value, mode="json"
        ):
            differ[key] = (default, value)
    assert not differ, f"code defaults differ from params.yaml (default, params.yaml): {differ}"


@pytest.mark.parametrize("key", ["features.trajectory", "extract_landmarks.sampling", "lstm.train.epochs", "seed"])
def test_a_key_left_out_of_params_yaml_is_named(tmp_path: Path, raw: dict, key: str) -> None:
    *parents, leaf = key.split(".")
    node = at(raw, ".".join(parents)) if parents else raw
    del node[leaf]
    with pytest.raises(ParamsError, match=rf"{re.escape(key)}\b"):
        load_params(write(tmp_path, raw))


def test_one_seed_drives_every_stage(tmp_path: Path, raw: dict) -> None:
    raw["seed"] = 7
    params = load_params(write(tmp_path, raw))
    seeds = {
        params.lstm.train.seed,
        params.tcn.train.seed,
        params.convlstm.cpu.train.seed,
        params.convlstm.gpu.train.seed,
    }
    assert seeds == {7}  # what MLflow logs is what fit uses


@pytest.mark.parametrize("section", ["lstm", "tcn", "convlstm.cpu", "convlstm.gpu"])
def test_per_stage_seed_refused(tmp_path: Path, raw: dict, section: str) -> None:
    at(raw, section)["train"]["seed"] = 3
    with pytest.raises(ParamsError, match=rf"{re.escape(section)}\.train\.seed: remove it"):
        load_params(write(tmp_path, raw))


@pytest.mark.parametrize(
    ("profile", "cuda", "chosen"),
    [("auto", True, "gpu"), ("auto", False, "cpu"), ("cpu", True, "cpu"), ("gpu", False, "gpu")],
)
def test_convlstm_device_profile_choice(tmp_path: Path, raw: dict, profile: str, cuda: bool, chosen: str) -> None:
    raw["convlstm"]["profile"] = profile
    convlstm = load_params(write(tmp_path, raw)).convlstm
    name, sizes = convlstm.choose(cuda_available=cuda)
    assert name == chosen
    assert sizes == getattr(convlstm, chosen)
    # a forced gpu profile without CUDA is not run on the CPU: its device stays cuda (fit refuses it)
    assert sizes.train.device == {"cpu": "cpu", "gpu": "cuda"}[chosen]


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("convlstm.profile", "tpu", r"convlstm\.profile"),
        ("convlstm.cpu.train.device", "cuda", r"convlstm\.cpu\.train\.device must be cpu"),
        ("convlstm.gpu.train.device", "auto", r"convlstm\.gpu\.train\.device must be cuda"),
        ("convlstm.cpu.augment.crop_scale", 0, r"convlstm\.cpu\.augment\.crop_scale"),
        ("convlstm.gpu.augment.copies", 0, r"convlstm\.gpu\.augment\.copies"),
        ("convlstm.cpu.downsample", 0, r"convlstm\.cpu\.downsample"),
    ],
)
def test_bad_convlstm_profile_values_are_named(tmp_path: Path, raw: dict, key: str, value: object, named: str) -> None:
    *parents, leaf = key.split(".")
    at(raw, ".".join(parents))[leaf] = value
    with pytest.raises(ParamsError, match=named):
        load_params(write(tmp_path, raw))


@pytest.mark.parametrize(
    ("parts", "section"), [(["pose", "face"], "tcn"), (["pose", "left_hand"], "tcn"), (["pose", "face"], "lstm")]
)
def test_mirror_needs_parts_with_left_right_twins(tmp_path: Path, raw: dict, parts: list[str], section: str) -> None:
    raw["features"]["parts"] = parts
    raw["lstm"]["augment"]["mirror"] = raw["tcn"]["augment"]["mirror"] = 0.0
    raw[section]["augment"]["mirror"] = 0.5
    with pytest.raises(ParamsError, match=rf"{section}\.augment\.mirror: .*set {section}\.augment\.mirror to 0") as err:
        load_params(write(tmp_path, raw))
    assert len(str(err.value).splitlines()) == 2  # the file, then one line naming the key and the remedy
    raw["lstm"]["augment"]["mirror"] = raw["tcn"]["augment"]["mirror"] = 0.0
    load_params(write(tmp_path, raw))


def test_geometric_augmentation_needs_body_centred_features(tmp_path: Path, raw: dict) -> None:
    raw["features"]["kind"] = "none"
    raw["lstm"]["augment"].update(mirror=0.0, scale=0.0, rotate=0.0)
    with pytest.raises(ParamsError, match=r"tcn\.augment\.(mirror|scale|rotate): .*features\.kind"):
        load_params(write(tmp_path, raw))
    raw["tcn"]["augment"].update(mirror=0.0, scale=0.0, rotate=0.0)  # temporal ones only: fine
    assert load_params(write(tmp_path, raw)).tcn.augment.active


def test_tcn_kernel_must_be_odd(tmp_path: Path, raw: dict) -> None:
    raw["tcn"]["kernel"] = 4
    with pytest.raises(ParamsError, match=r"tcn\.kernel: .*odd"):
        load_params(write(tmp_path, raw))


# --------------------------------------------------------------------------- dvc exp run -S


def test_dvc_round_trip_keeps_params_yaml_byte_identical(repo: Path) -> None:
    """DVC rewrites params.yaml through this serializer on every `-S`: nothing may move."""
    from dvc.utils.serialize._yaml import _dump, parse_yaml_for_update

    text = (repo / "params.yaml").read_text()
    out = io.StringIO()
    _dump(parse_yaml_for_update(text, "params.yaml"), out)
    assert out.getvalue() == text


def hydra_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ",".join(map(hydra_value, value)) + "]"
    if isinstance(value, float) and "e" in repr(value) and "." not in repr(value):
        return repr(value).replace("e", ".0e")  # hydra reads 1e-06 as a string, 1.0e-06 as a float
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_set_param_works_for_every_key_and_changes_only_its_line(tmp_path: Path, repo: Path, raw: dict) -> None:
    """`dvc exp run -S key=value` for every key (DVC refuses keys that params.yaml lacks), and an
    experiment's diff is the changed line alone."""
    from dvc.utils.hydra import apply_overrides
    from dvc.utils.serialize import parse_yaml

    path = tmp_path / "params.yaml"
    path.write_text((repo / "params.yaml").read_text())
    keys = sorted(set(leaf_keys(Params)) - DERIVED)
    apply_overrides(path, [f"{k}={hydra_value(at(raw, k))}" for k in keys])  # each key set to its value
    assert parse_yaml(path.read_text(), path) == parse_yaml((repo / "params.yaml").read_text(), path)
    path.write_text((repo / "params.yaml").read_text())
    apply_overrides(path, ["seed=7", "classical.lr.C=0.5"])
    changed = [
        (a, b)
        for a, b in zip((repo / "params.yaml").read_text().splitlines(), path.read_text().splitlines(), strict=False)
        if a != b
    ]
    assert [b.split("#")[0].strip() for _, b in changed] == ["seed: 7", "C: 0.5"]
    assert len(path.read_text().splitlines()) == len((repo / "params.yaml").read_text().splitlines())


def test_readme_set_params_apply_and_validate(tmp_path: Path, repo: Path) -> None:
    """Every `-S` of the README applies to params.yaml and gives valid params."""
    from dvc.utils.hydra import apply_overrides

    overrides = [o for o in re.findall(r"-S\s+('[^']+'|[^\s)]+)", (repo / "README.md").read_text()) if "<" not in o]
    assert len(overrides) >= 8
    for override in overrides:
        path = tmp_path / "params.yaml"
        path.write_text((repo / "params.yaml").read_text())
        apply_overrides(path, [override.strip("'")])
        load_params(path)


@pytest.mark.parametrize("section", ["lstm", "tcn"])
def test_sequence_open_set_is_off_in_the_repo_and_parses_when_set(tmp_path: Path, raw: dict, section: str) -> None:
    assert raw[section]["open_set"] == {"score": None, "quantile": 0.05}  # off: the demo's models are unchanged
    raw[section]["open_set"] = {"score": "max_prob", "quantile": 0.1}
    spec = getattr(load_params(write(tmp_path, raw)), section).open_set
    assert spec.score == "max_prob" and spec.quantile == 0.1


@pytest.mark.parametrize("section", ["lstm", "tcn"])
def test_a_bad_sequence_open_set_score_names_the_key(tmp_path: Path, raw: dict, section: str) -> None:
    raw[section]["open_set"]["score"] = "entropy"
    with pytest.raises(ParamsError, match=rf"{section}\.open_set\.score: .*'max_prob'.*'entropy'"):
        load_params(write(tmp_path, raw))
