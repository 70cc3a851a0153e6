"""Extraction on a Dask cluster: same bytes as the local pool, and a worker killed mid-clip
loses nothing (its clip is rescheduled; the cache only ever holds whole entries).

The cluster is a real ``LocalCluster`` of two single-threaded worker processes on 127.0.0.1,
reached through its scheduler address exactly as a remote cluster would be.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from actionrec.config.extraction import ClipParams, ExtractParams
from actionrec.data.clips import discover_clips
from actionrec.data.demo.videos import generate_demo_videos
from actionrec.extraction.dask_executor import DASK_ADDRESS_ENV, holistics_created
from actionrec.extraction.run import run_extraction

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow
N_FRAMES = 24


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("videos")
    generate_demo_videos(root, seed=3, clips_per_class=2, n_frames=N_FRAMES, size=(160, 120))
    return discover_clips(root)


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield cluster, client


def _outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _dask(params, address: str | None = None):
    return params.model_copy(
        update={"executor": params.executor.model_copy(update={"kind": "dask", "address": address})}
    )


def test_same_bytes_as_local_and_one_holistic_per_worker(clips, cluster, tmp_path: Path, monkeypatch) -> None:
    cluster, client = cluster
    for kind, params in (
        ("landmarks", ExtractParams(max_frames=N_FRAMES, workers=2)),
        ("clips", ClipParams(n_frames=8, size=32, workers=2)),
    ):
        local = run_extraction(clips, tmp_path / f"local-{kind}", tmp_path / f"cache-local-{kind}", params, kind)
        # The address comes from the environment here (it overrides executor.address).
        monkeypatch.setenv(DASK_ADDRESS_ENV, cluster.scheduler_address)
        remote = run_extraction(
            clips, tmp_path / f"dask-{kind}", tmp_path / f"cache-dask-{kind}", _dask(params, "tcp://127.0.0.1:9"), kind
        )
        monkeypatch.delenv(DASK_ADDRESS_ENV)
        assert (local["status"] == "ok").all(), local[["clip", "status", "message"]]
        assert not remote["cached"].any()
        pd.testing.assert_frame_equal(local, remote)
        assert _outputs(tmp_path / f"local-{kind}") == _outputs(tmp_path / f"dask-{kind}")
        # Content-addressed: the two caches hold the same entries under the same keys.
        assert _outputs(tmp_path / f"cache-local-{kind}") == _outputs(tmp_path / f"cache-dask-{kind}")
    # 8 clips on 2 worker processes: each made its Holistic once and kept it.
    made = client.run(holistics_created)
    assert sorted(made.values()) == [1, 1], made


def test_worker_killed_mid_clip_loses_nothing(clips, cluster, tmp_path: Path) -> None:
    cluster, client = cluster
    params = ExtractParams(max_frames=N_FRAMES, workers=2)
    reference = run_extraction(clips, tmp_path / "ref", tmp_path / "cache-ref", params, "landmarks")
    cache = tmp_path / "cache"
    result: dict[str, object] = {}

    def extract_on_dask() -> None:
        try:
            result["index"] = run_extraction(
                clips, tmp_path / "out", cache, _dask(params, cluster.scheduler_address), "landmarks"
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            result["error"] = exc

    thread = threading.Thread(target=extract_on_dask)
    thread.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and thread.is_alive() and time.monotonic() < deadline:
        if any(cache.rglob("*.npz")):  # the first clip came back: kill a worker busy on another
            busy = client.run(lambda dask_worker: [str(ts.key) for ts in dask_worker.state.executing])
            for address, keys in busy.items():
                if keys:
                    pid = client.run(os.getpid, workers=[address])[address]
                    os.kill(pid, signal.SIGKILL)
                    killed = (address, keys)
                    break
        time.sleep(0.05)
    thread.join(timeout=300)
    assert not thread.is_alive(), "extraction did not finish after the kill"
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    assert killed is not None, "no worker was busy on a clip after the first result"
    index = result["index"]
    assert (index["status"] == "ok").all(), index[["clip", "status", "message"]]
    assert _outputs(tmp_path / "out") == _outputs(tmp_path / "ref")
    pd.testing.assert_frame_equal(index.drop(columns="cached"), reference.drop(columns="cached"))
    # No temp file of the interrupted clip is left in the cache.
    assert not [p for p in cache.rglob("*") if p.is_file() and not p.name.endswith(".npz")]
    # The nanny restarted the killed worker: the cluster is whole again.
    deadline = time.monotonic() + 60
    while len(client.scheduler_info()["workers"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(client.scheduler_info()["workers"]) == 2
