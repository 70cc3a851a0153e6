"""A shared MLflow tracking server on PostgreSQL: the real train_classical stage logs to it and
the registry alias ``champion`` is set through it.

Set-up as in the README ("Scaling out"): a throw-away PostgreSQL cluster (``initdb`` into a
temp dir, as the ``postgres`` user when running as root) listening on 127.0.0.1 only, then
``mlflow server --backend-store-uri postgresql://... --artifacts-destination DIR --workers 1``
in its own process group (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``), stopped as a group
after. Skips where no PostgreSQL server binaries are installed (``make postgres`` installs them).
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from actionrec.lineage import runrecord
from tests.pipeline.conftest import copy_repo, run, set_params

pytestmark = pytest.mark.slow
VENV_BIN = Path(sys.executable).parent
REGISTERED = "actionrec-live"


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[4]))
    return versions[-1] if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on 127.0.0.1:<free port> with an ``mlflow`` database."""
    psycopg2 = pytest.importorskip("psycopg2")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed: run `make postgres`")
    root = Path(tempfile.mkdtemp(prefix="actionrec-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: the cluster belongs to `postgres`
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user for initdb")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE mlflow")
        conn.close()
        # +psycopg2: SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which is not installed.
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def tracking_server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow server`` on the PostgreSQL store, artifacts proxied into a temp dir."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            postgres_url,
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"mlflow server did not come up:\n{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
        log.close()


@pytest.fixture(scope="module")
def repo_on_server(tracking_server: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A repository copy with the demo data whose pipeline logs to the server."""
    repo = copy_repo(tmp_path_factory.mktemp("repo"))
    # The checkout's per-clip extraction cache (content-addressed, so safe to share): the demo
    # clips' landmarks are usually there already; this test is about tracking, not MediaPipe.
    cache = Path(__file__).resolve().parents[2] / ".cache" / "actionrec"
    env = {
        "PYTHONPATH": str(repo),
        "MLFLOW_TRACKING_URI": tracking_server,
        "ACTIONREC_CACHE_DIR": os.environ.get("ACTIONREC_CACHE_DIR", str(cache)),
    }
    run([sys.executable, "-m", "actionrec", "demo-data"], repo, env=env)
    run(["dvc", "add", "-q", "data/raw/landmarks", "data/raw/videos"], repo, env=env)
    set_params(
        repo,
        {
            "classical.rf.n_estimators": 20,
            "classical.gb.n_estimators": 10,
            "lstm.train.epochs": 2,
            "lstm.train.nproc": 2,
        },
    )
    (repo / "dvc.lock").unlink(missing_ok=True)
    return repo, env


def test_classical_stage_logs_to_postgres_server_and_alias_is_set(
    tracking_server: str, repo_on_server: tuple[Path, dict[str, str]]
) -> None:
    import mlflow

    repo, env = repo_on_server
    proc = run(["dvc", "repro", "train_classical"], repo, env=env)
    assert "[train_classical]" in proc.stdout, proc.stdout[-2000:]
    assert not (repo / "mlflow.db").exists(), "the stage wrote to the default SQLite store"

    client = mlflow.MlflowClient(tracking_server)
    experiment = client.get_experiment_by_name("actionrec")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("mlflow.runName") == "train_classical"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    assert len(parents) == 1 and len(children) >= 4, [r.data.tags.get("mlflow.runName") for r in runs]
    assert parents[0].data.tags["dvc.stage"] == "train_classical"
    assert all(r.info.status == "FINISHED" for r in runs)

    # Register one of the stage's models through the server (the package stage's registry code)
    # and promote it to `champion`; then load it back by alias (artifacts come through the server).
    run_id = runrecord.read(repo / "models/classical/lr.json")["mlflow_run_id"]
    register = (
        "import json; from actionrec.packaging import registry; "
        f"r = registry.register({run_id!r}, {REGISTERED!r}, {{'metric': 'clip_accuracy', 'metric.value': '0.9'}}); "
        f"d = registry.promote({REGISTERED!r}, str(r['version']), 0.5, 'clip_accuracy'); "
        "print(json.dumps({**r, 'promoted': d.promoted}))"
    )
    registered = json.loads(run([sys.executable, "-c", register], repo, env=env).stdout.strip().splitlines()[-1])
    assert registered["promoted"], registered
    version = client.get_model_version_by_alias(REGISTERED, "champion")
    assert version.run_id == run_id and int(version.version) == registered["version"]

    mlflow.set_tracking_uri(tracking_server)
    try:
        model = mlflow.sklearn.load_model(f"models:/{REGISTERED}@champion")
    finally:
        mlflow.set_tracking_uri(None)
    import numpy as np

    assert model.predict(np.zeros((2, model.n_features_in_), np.float32)).shape == (2,)


def test_lstm_stage_with_nproc_2_runs_under_torchrun_and_logs_one_run(
    tracking_server: str, repo_on_server: tuple[Path, dict[str, str]]
) -> None:
    """``lstm.train.nproc: 2``: ``dvc repro`` starts the stage, which re-launches itself under
    torchrun (2 gloo processes); rank 0 alone logs one run to the server and writes the model."""
    import mlflow

    repo, env = repo_on_server
    proc = run(["dvc", "repro", "train_lstm"], repo, env=env)
    assert "[torchrun] 2 processes" in proc.stderr, proc.stderr[-2000:]
    assert proc.stdout.count("[train_lstm]") == 1, proc.stdout[-2000:]  # one summary: rank 0's
    client = mlflow.MlflowClient(tracking_server)
    experiment = client.get_experiment_by_name("actionrec")
    (lstm,) = client.search_runs([experiment.experiment_id], "tags.`model.name` = 'lstm'")
    assert lstm.data.tags["train.world_size"] == "2" and lstm.info.status == "FINISHED"
    assert runrecord.read(repo / "models/lstm/model.json")["mlflow_run_id"] == lstm.info.run_id
    assert len((repo / "reports/curves/lstm.csv").read_text().splitlines()) == 1 + 2  # header + 2 epochs
