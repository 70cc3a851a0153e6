"""The ConvLSTM stage's set-up: device profile chosen by the CUDA check, model and records of it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from actionrec.config.params import Params, load_params
from actionrec.core.manifests import ModelManifest
from actionrec.models.torch_io import model_spec
from actionrec.training import convlstm_setup as setup


def params_with(tmp_path: Path, repo: Path, profile: str) -> Params:
    raw = yaml.safe_load((repo / "params.yaml").read_text())
    raw["convlstm"]["profile"] = profile
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    return load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize(
    ("profile", "cuda", "chosen"),
    [("auto", True, "gpu"), ("auto", False, "cpu"), ("cpu", True, "cpu"), ("gpu", True, "gpu")],
)
def test_the_cuda_check_picks_the_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, repo: Path, profile: str, cuda: bool, chosen: str
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    params = params_with(tmp_path, repo, profile)
    name, p = setup.choose_profile(params)
    assert name == chosen and p == getattr(params.convlstm, chosen)
    logged = setup.logged_params(params, name, p)["convlstm"]
    assert logged["profile"] == chosen and logged["profile_asked"] == profile
    assert logged["hidden"] == p.hidden and logged["train"]["epochs"] == p.train.epochs


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_model_and_manifest_follow_the_profile(tmp_path: Path, repo: Path, profile: str) -> None:
    params = params_with(tmp_path, repo, profile)
    p = getattr(params.convlstm, profile)
    model = setup.build_model(3, p)
    assert [cell.hidden_ch for cell in model.cells] == p.hidden
    assert model.hparams["downsample"] == p.downsample and model.hparams["norm"] == p.norm
    manifest = ModelManifest(
        **setup.manifest_fields(params, ["a", "b", "c"], profile),
        **model_spec(model),
        name="convlstm",
        model_file="model.pt",
    )
    assert manifest.profile == profile and manifest.n_frames == params.extract_clips.n_frames
    assert len(setup.training_views(torch.utils.data.TensorDataset(torch.zeros(4, 1)), p)) == 4 * p.augment.copies


def test_the_cpu_profile_forward_pass_runs_on_a_clip(tmp_path: Path, repo: Path) -> None:
    params = params_with(tmp_path, repo, "cpu")
    model = setup.build_model(4, params.convlstm.cpu).eval()
    size = params.extract_clips.size
    out = model(torch.rand(2, 3, 3, size, size))
    assert out.shape == (2, 4)
