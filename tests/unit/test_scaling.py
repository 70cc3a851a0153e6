"""Scaling-out pieces that need no cluster: executor params, DDP sharding, memory-mapped clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from actionrec.config.extraction import ClipParams, ExecutorParams, ExtractParams
from actionrec.data.corpus import write_clip_array
from actionrec.extraction.cache import cache_key, save_npz
from actionrec.extraction.dask_executor import DASK_ADDRESS_ENV, scheduler_address
from actionrec.models.torch_io import ClipDataset
from actionrec.training import ddp
from actionrec.training.loop import make_loader


def test_executor_params_are_typed_and_never_part_of_the_cache_key(monkeypatch) -> None:
    with pytest.raises(ValidationError, match="executor.kind"):
        ExtractParams.model_validate({"executor": {"kind": "ray"}})
    with pytest.raises(ValidationError, match="executor.adress"):
        ClipParams.model_validate({"executor": {"adress": "tcp://127.0.0.1:8786"}})
    local = ExtractParams()
    dask = ExtractParams(workers=7, executor=ExecutorParams(kind="dask", address="tcp://127.0.0.1:8786"))
    assert cache_key("ab" * 32, local, "landmarks") == cache_key("ab" * 32, dask, "landmarks")
    assert scheduler_address(dask.executor) == "tcp://127.0.0.1:8786"
    monkeypatch.setenv(DASK_ADDRESS_ENV, "tcp://127.0.0.1:9999")
    assert scheduler_address(dask.executor) == "tcp://127.0.0.1:9999"
    assert scheduler_address(ExecutorParams(kind="dask")) == "tcp://127.0.0.1:9999"


def test_ranks_together_take_the_single_process_batches(monkeypatch) -> None:
    """2 ranks x batch 3 see, step by step, the samples of 1 process x batch 6, every epoch."""
    ds = torch.utils.data.TensorDataset(torch.arange(24))
    cpu = torch.device("cpu")
    for epoch in range(3):
        single = make_loader(ds, 6, cpu, 0, seed=5)
        single.sampler.set_epoch(epoch)
        steps = [sorted(b[0].tolist()) for b in single]
        per_rank = []
        for rank in (0, 1):
            monkeypatch.setenv("WORLD_SIZE", "2")
            monkeypatch.setenv("RANK", str(rank))
            loader = make_loader(ds, 3, cpu, 0, seed=5)
            loader.sampler.set_epoch(epoch)
            per_rank.append([b[0].tolist() for b in loader])
        monkeypatch.delenv("WORLD_SIZE")
        monkeypatch.delenv("RANK")
        assert [sorted(a + b) for a, b in zip(*per_rank, strict=True)] == steps
    # Evaluation shards: disjoint, unpadded, together everything once.
    monkeypatch.setenv("WORLD_SIZE", "3")
    shards = []
    for rank in range(3):
        monkeypatch.setenv("RANK", str(rank))
        shards += [
            x
            for b in make_loader(torch.utils.data.TensorDataset(torch.arange(10)), 4, cpu, 0, shard=True)
            for x in b[0].tolist()
        ]
    assert sorted(shards) == list(range(10))


def test_relaunch_is_a_no_op_for_one_process_or_under_torchrun(monkeypatch) -> None:
    ddp.relaunch_with_torchrun(1)
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    ddp.relaunch_with_torchrun(2)  # already under torchrun: returns, trains
    assert ddp.all_reduce_sum(torch.ones(3)).tolist() == [1.0, 1.0, 1.0]  # no process group: unchanged


def test_memory_mapped_clips_equal_the_in_memory_ones(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (5, 3, 8, 8, 3), dtype=np.uint8)
    paths = []
    for i, clip in enumerate(clips):
        paths.append(tmp_path / f"c{i}.npz")
        save_npz(paths[-1], {"frames": clip, "frame_index": np.arange(3, dtype=np.int32), "fps": np.array(25.0)})
    write_clip_array(paths, tmp_path / "clips.npy")
    assert not list(tmp_path.glob(".*.tmp"))
    mapped, held = ClipDataset(tmp_path / "clips.npy", [0, 1, 0, 1, 0]), ClipDataset(clips, [0, 1, 0, 1, 0])
    assert isinstance(np.load(tmp_path / "clips.npy", mmap_mode="r"), np.memmap)
    for _ in range(2):  # twice: pages released after the first read come back intact
        for i in [*range(5), -1, np.int64(2)]:
            a, b = mapped[i], held[i]
            assert torch.equal(a[0], b[0]) and a[1] == b[1]
    with pytest.raises(IndexError):
        mapped[5]
    bad = tmp_path / "bad.npz"
    save_npz(bad, {"frames": clips[0, :2]})
    with pytest.raises(ValueError, match="bad.npz"):
        write_clip_array([paths[0], bad], tmp_path / "x.npy")
    assert not (tmp_path / "x.npy").exists()
