"""Every shell block of README.md runs here, so the README cannot drift from the code.

README.md's ```bash / ```sh / ```shell / ```console blocks are looked up in :data:`HOW` by their
first line: a block the table does not know fails :func:`test_every_shell_block_is_in_the_table`.
Each block then runs as written, with ``bash -e -o pipefail``, the test's venv as ``.venv``, in:

* ``demo``: one workspace cloned from the pipeline tier's committed, trained demo run
  (:func:`tests.pipeline.shared_runs.run_a`, smaller training budgets), the blocks one after the
  other in README order, as a reader follows them;
* ``fresh``: a fresh copy of the repository without any data (the real-data sequences), on a
  subset of ``../shared/data`` (skipped where it is absent) with the same smaller budgets.

What cannot run as written here is spelled out per block: ``subs`` replace text (free ports
instead of 5000/8000, 127.0.0.1 for a remote host, no webcam, the data subset), each of which must
still be found in the block; ``long`` commands (each a prefix of a logical line) run only with
``ACTIONREC_DOCS=full`` (``make docs``) because they retrain beyond what ``make test`` affords, and
``skip`` commands never run here, with the reason. Commands that need a webcam or a display must
stop with their own message about the missing device (not a usage error).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from tests.pipeline import shared_runs
from tests.pipeline.conftest import REPO, copy_repo
from tests.pipeline.shared_runs import TEST_PARAMS, env_for, git, workspace

README = REPO / "README.md"
FENCE = re.compile(r"^```(?:bash|sh|shell|console)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
FULL = os.environ.get("ACTIONREC_DOCS") == "full"
BLOCK_TIMEOUT_S = 1800

SERVED_MLFLOW_UI = (
    "served http://127.0.0.1:$DOCS_PORT/ .venv/bin/mlflow ui --port $DOCS_PORT --backend-store-uri sqlite:///mlflow.db"
)


@dataclass(frozen=True)
class How:
    """How one README block runs (see the module docstring)."""

    where: str  # "demo" | "fresh" | "nowhere" (every command is in ``skip``)
    subs: tuple[tuple[str, str], ...] = ()
    long: tuple[str, ...] = ()
    skip: tuple[tuple[str, str], ...] = ()
    expect: tuple[str, ...] = ()  # printed by the block


HOW: dict[str, How] = {
    "make demo   # creates .venv, installs the pinned stack, generates the demo data, runs `dvc repro`, prints the leaderboard": How(
        "demo",
        skip=(("make test", "the test suite this test is part of"),),
        expect=("| 1 |", "Compare runs in the MLflow UI"),
    ),
    ".venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db   # open http://127.0.0.1:5000": How(
        "demo",
        subs=((".venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db", SERVED_MLFLOW_UI),),
        expect=("served http://127.0.0.1:", "classical-lr", "dvc_plots/index.html"),
    ),
    "dvc add data/raw/landmarks data/raw/videos": How("demo", expect=("up to date",)),
    "# the video configuration of both: 32 frames spread over each whole clip, pose + hands, and the": How(
        "fresh",
        subs=(("../shared/data", "$DOCS_DATA"), ("dvc exp run", 'dvc exp run "${DOCS_BUDGET[@]}"')),
        long=('dvc exp run "${VIDEO[@]}" -S \'data.labels=[bend,', "dvc exp run -S 'data.labels=[En Garde,Lunge]'"),
    ),
    "# MediaPipe Holistic keypoint sequences of the LSTM tutorial (MP_Data), split by sequence": How(
        "fresh",
        subs=(("../shared/data", "$DOCS_DATA"),),
        long=("dvc exp run -S 'data.labels=[hello,iloveyou,thanks]'",),
        expect=("24 recordings, 720 frames", "labels not in data.labels"),
    ),
    "# live recognition: webcam 0, a video file or a stream URL; q quits the window": How(
        "demo",
        subs=(
            (".venv/bin/actionrec live --source 0", "no_camera .venv/bin/actionrec live --source 0"),
            (
                ".venv/bin/actionrec record --label Nod --labels",
                "no_camera .venv/bin/actionrec record --label Nod --labels",
            ),
            # the new session is not added to the data (retraining on a new session: tests/pipeline/test_pipeline.py)
            ("--source nod.mp4 --headless", "--source nod.mp4 --headless --out-dir $DOCS_TMP/sessions"),
            ("/tmp/live", "$DOCS_TMP/live"),
            (
                ".venv/bin/actionrec serve",
                "served http://127.0.0.1:$DOCS_PORT/healthz .venv/bin/actionrec serve --port $DOCS_PORT",
            ),
        ),
        long=("python -m venv /tmp/live", "/tmp/live/bin/python models/package/live.py"),
        expect=("no camera here", "served http://127.0.0.1:"),
    ),
    ".venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db        # http://127.0.0.1:5000": How(
        "demo",
        subs=((".venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db", SERVED_MLFLOW_UI),),
        expect=("served http://127.0.0.1:",),
    ),
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false .venv/bin/mlflow server \\": How(
        "demo",
        subs=(
            (
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false .venv/bin/mlflow server",
                "served http://127.0.0.1:$DOCS_PORT/health env MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false .venv/bin/mlflow server",
            ),
            ("--port 5000", "--port $DOCS_PORT"),
            ("http://127.0.0.1:5000", "http://127.0.0.1:$DOCS_PORT"),
        ),
        expect=("served http://127.0.0.1:",),
    ),
    ".venv/bin/actionrec compare 3f2a9c...e1 9bc1d0...7a    # two MLflow runs: params and metrics": How(
        "demo",
        # lr-c05 is made by the next section's block: the commit before the results stands in for it
        subs=(
            ("3f2a9c...e1 9bc1d0...7a", '"$(run_id classical-lr)" "$(run_id classical-rf)"'),
            ("compare main lr-c05", "compare main HEAD~1"),
        ),
    ),
    "dvc exp run -n lr-c05 -S classical.lr.C=0.5          # in the workspace; any stage's params: -S <section>.<key>=<value>": How(
        "demo",
        subs=(("dvc queue start -j 1 && dvc queue status", "dvc queue start -j 1 && dvc queue status && queue_wait"),),
        long=("dvc exp run --queue -S lstm.hidden=64", "dvc exp run --queue -S convlstm.cpu.train.epochs=20"),
        expect=("lr-c05",),
    ),
    ".venv/bin/actionrec reproduce <mlflow-run-id>     # a model's run, or the train_classical parent run": How(
        # ~110 s on 2 cores today (tests/pipeline/test_reproduce.py reproduces runs in make test)
        "demo",
        subs=(("<mlflow-run-id>", '"$(run_id classical-lr first)"'),),
        expect=("REPRODUCED",) if FULL else (),
        long=(".venv/bin/actionrec reproduce <mlflow-run-id>",),
    ),
    '.venv/bin/actionrec run -m "lr C=0.5"          # commit the changed inputs, dvc repro, commit the results': How(
        "demo"
    ),
    "# on the scheduler machine": How(
        "demo",
        subs=(
            ("0.0.0.0", "127.0.0.1"),
            ("SCHEDULER", "127.0.0.1"),
            ("8786", "$DASK_PORT"),
            ("--nworkers 4", "--nworkers 1"),
            (".venv/bin/dask scheduler", "background .venv/bin/dask scheduler"),
            (".venv/bin/dask worker", "wait_port $DASK_PORT && background .venv/bin/dask worker"),
        ),
    ),
    "dvc exp run -S convlstm.gpu.train.nproc=4        # 4 processes, one GPU each (nccl); convlstm.cpu.train.nproc: gloo on the CPU": How(
        "demo",
        subs=(
            ("convlstm.gpu.train.nproc=4", "convlstm.cpu.train.nproc=2"),
            ("--nproc-per-node 4", "--nproc-per-node 2"),
        ),
        long=("dvc exp run -S convlstm.gpu.train.nproc=4",),
    ),
    "sudo apt-get install -y postgresql                         # `make postgres` does this (as root)": How(
        "nowhere",
        skip=(
            (
                "",
                "needs root and the machine's PostgreSQL service; tests/slow/test_postgres_tracking.py runs "
                "these steps against a throw-away cluster on 127.0.0.1",
            ),
        ),
    ),
}

# Bash helpers the substitutions use; DOCS_TMP, DOCS_PORT, DASK_PORT come from the environment.
PRELUDE = r"""
: > "$DOCS_TMP/background.pids"
trap 'while read -r p; do kill -TERM -- "-$p" 2>/dev/null || true; done < "$DOCS_TMP/background.pids"' EXIT
background() {  # a long-running process (own process group), stopped when the block ends
  setsid "$@" >>"$DOCS_TMP/background.log" 2>&1 &
  echo "$!" >> "$DOCS_TMP/background.pids"
}
wait_port() {  # until something listens on 127.0.0.1:PORT (60 s)
  local i
  for i in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.2; done
  cat "$DOCS_TMP/background.log"; return 1
}
served() {  # served URL CMD...: start a server (own process group), wait until URL answers, stop it
  local url=$1 pid i; shift
  setsid "$@" > "$DOCS_TMP/server.log" 2>&1 &
  pid=$!
  for i in $(seq 600); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then
      kill -TERM -- "-$pid"; wait "$pid" 2>/dev/null || true; echo "served $url"; return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$DOCS_TMP/server.log"; return 1; }
    sleep 0.2
  done
  kill -KILL -- "-$pid"; cat "$DOCS_TMP/server.log"; return 1
}
no_camera() {  # no webcam or display here: the command must stop on that, with its own message
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  [[ $rc -ne 0 && $out != *"usage:"* && ( $out == *"camera 0: cannot be opened"* || $out == *"no display"* ) ]] ||
    { echo "$out"; return 1; }
  echo "no camera here: $1 $2 stopped with: ${out##*error: }"
}
run_id() {  # run_id NAME [first]: the newest (or first) MLflow run called NAME in ./mlflow.db
  python - "$@" <<'EOF'
import sys, mlflow
client = mlflow.MlflowClient(tracking_uri="sqlite:///mlflow.db")
exp = client.get_experiment_by_name("actionrec")
order = "ASC" if sys.argv[2:] == ["first"] else "DESC"
runs = client.search_runs([exp.experiment_id], f"attributes.run_name = '{sys.argv[1]}'",
                          order_by=[f"attributes.start_time {order}"], max_results=1)
print(runs[0].info.run_id)
EOF
}
queue_wait() {  # until the DVC queue has nothing queued or running (30 min)
  local i
  for i in $(seq 360); do dvc queue status | grep -qE "Queued|Running" || return 0; sleep 5; done
  return 1
}
DOCS_BUDGET=(%s)
"""


def shell_blocks() -> list[str]:
    """The shell blocks of README.md, in order."""
    return [m.group(1) for m in FENCE.finditer(README.read_text())]


def key(block: str) -> str:
    return block.splitlines()[0].strip()


def logical_lines(block: str) -> list[str]:
    """The block's lines with backslash continuations joined into one."""
    out, current = [], ""
    for line in block.splitlines():
        current += line + "\n"
        if not line.endswith("\\"):
            out.append(current)
            current = ""
    return out + ([current] if current else [])


def script(block: str, how: How) -> str:
    """What runs for ``block``: skipped and (unless full) long commands noted, subs applied."""
    lines = []
    for line in logical_lines(block):
        stripped = line.strip()
        reason = next((why for prefix, why in how.skip if stripped and stripped.startswith(prefix)), None)
        if reason is None and not FULL and any(stripped.startswith(p) for p in how.long):
            reason = "long: runs with ACTIONREC_DOCS=full (make docs)"
        lines.append(f"echo {_quote('skipped (' + reason + '): ' + stripped.splitlines()[0])}\n" if reason else line)
    text = "".join(lines)
    for old, new in how.subs:
        text = text.replace(old, new)
    budget = " ".join(f"-S {k}={v}" for k, v in TEST_PARAMS.items())
    return PRELUDE % budget + text


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def link_venv(root: Path) -> None:
    """``root/.venv``: the test's own virtualenv (linked, never installed into), already set up."""
    venv = Path(sys.prefix)
    (root / ".venv").mkdir()
    for entry in venv.iterdir():
        if entry.name != ".installed":
            (root / ".venv" / entry.name).symlink_to(entry)
    (root / ".venv" / ".installed").touch()  # newer than the copied locks: `make setup` has nothing to do


def run_block(block: str, how: How, cwd: Path, tmp: Path, extra_env: dict[str, str]) -> str:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "block.sh"
    path.write_text(script(block, how))
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "VIRTUAL_ENV")}
    env.update(
        env_for(cwd),
        DOCS_TMP=str(tmp),
        DOCS_PORT=str(_free_port()),
        DASK_PORT=str(_free_port()),
        PATH=f"{cwd / '.venv' / 'bin'}{os.pathsep}{env['PATH']}",
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        **extra_env,
    )
    proc = subprocess.run(
        ["bash", "-e", "-o", "pipefail", str(path)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"README block failed ({proc.returncode}):\n{block}\n--- output ---\n{log[-6000:]}"
    for text in how.expect:
        assert text in log, f"{text!r} not printed by:\n{block}\n--- output ---\n{log[-6000:]}"
    return log


# ---------------------------------------------------------------- the table covers the README


def test_every_shell_block_is_in_the_table() -> None:
    blocks = shell_blocks()
    assert len(blocks) >= 10, "README.md lost its shell blocks, or FENCE no longer finds them"
    missing = [key(b) for b in blocks if key(b) not in HOW]
    assert not missing, "README shell blocks that tests/docs/test_readme.py does not know how to run:\n" + "\n".join(
        missing
    )
    stale = sorted(set(HOW) - {key(b) for b in blocks})
    assert not stale, f"HOW names blocks that are no longer in README.md: {stale}"
    for block in blocks:
        how = HOW[key(block)]
        commands = [line.strip() for line in logical_lines(block)]
        absent = [old for old, _ in how.subs if old not in block]
        absent += [p for p in how.long if not any(c.startswith(p) for c in commands)]
        absent += [p for p, _ in how.skip if p and not any(c.startswith(p) for c in commands)]
        assert not absent, f"the README block {key(block)!r} no longer contains {absent}: update HOW"
        if how.where == "nowhere":
            assert how.skip and all(p == "" for p, _ in how.skip)


def test_script_skips_long_commands_and_applies_subs() -> None:
    block = "dvc exp run -S a=1 \\\n    -S b=2\necho ../shared/data\n"
    how = How("fresh", subs=(("../shared/data", "$DOCS_DATA"),), long=("dvc exp run",))
    text = script(block, how)
    assert "echo $DOCS_DATA" in text
    assert ("-S b=2" in text) == FULL


# ---------------------------------------------------------------- running the blocks

DOCS_BLOCKS = [b for b in shell_blocks() if key(b) in HOW]


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of the trained demo run (branch ``main``) with the venv linked and two clips at
    the paths the README names (``clip.mp4``, ``nod.mp4``; git-excluded like a user's own files)."""
    run_a = shared_runs.run_a(tmp_path_factory)
    ws = workspace(run_a, tmp_path_factory.mktemp("docs") / "ws")
    git(ws, "branch", "-M", "main")
    link_venv(ws)
    clip = sorted((ws / "data/raw/videos/Nod").glob("*.avi"))[0]
    for name in ("clip.mp4", "nod.mp4"):
        shutil.copy2(clip, ws / name)
    with (ws / ".git/info/exclude").open("a") as fh:
        fh.write("/clip.mp4\n/nod.mp4\n/annotated.webm\n")
    return ws


@pytest.fixture(scope="module")
def data_subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ``../shared/data``: UCF101 with 3 clips per class (test group g01, train groups
    g08, g09), Weizmann with 4 actors, the fencing coords.csv, the MP_Data sequences, all split lists."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATA}")
    dest = tmp_path_factory.mktemp("shared-data-subset")
    for folder in sorted((SHARED_DATA / "ucf101").iterdir()):
        (dest / "ucf101" / folder.name).mkdir(parents=True)
        for group in ("g01", "g08", "g09"):
            clip = sorted(folder.glob(f"*_{group}_*"))[0]
            shutil.copy2(clip, dest / "ucf101" / folder.name / clip.name)
    shutil.copytree(SHARED_DATA / "ucf101_splits", dest / "ucf101_splits")
    for folder in sorted((SHARED_DATA / "weizmann").iterdir()):
        (dest / "weizmann" / folder.name).mkdir(parents=True)
        for actor in ("daria", "denis", "eli", "ido"):
            for clip in folder.glob(f"{actor}_*"):
                shutil.copy2(clip, dest / "weizmann" / folder.name / clip.name)
    shutil.copytree(SHARED_DATA / "mediapipe_sequences", dest / "mediapipe_sequences")
    fencing = "mediapipe_coords/liulawrence45_fencing_pose/coords.csv"
    (dest / fencing).parent.mkdir(parents=True)
    shutil.copy2(SHARED_DATA / fencing, dest / fencing)
    return dest


@pytest.mark.docs
@pytest.mark.slow
@pytest.mark.pipeline
@pytest.mark.parametrize("block", DOCS_BLOCKS, ids=[f"{i:02d}" for i in range(len(DOCS_BLOCKS))])
def test_readme_block_runs(block: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    how = HOW[key(block)]
    if how.where == "nowhere":
        pytest.skip(how.skip[0][1])
    if how.where == "demo":
        cwd, env = request.getfixturevalue("demo_ws"), {}
    else:
        data = request.getfixturevalue("data_subset")
        cwd, env = copy_repo(tmp_path / "fresh"), {"DOCS_DATA": str(data)}
        link_venv(cwd)
    log = run_block(block, how, cwd, tmp_path / "tmp", env)
    print(log[-3000:])
