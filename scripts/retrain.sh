#!/usr/bin/env bash
# Retrain (CI or by hand, `make retrain`):
#   dvc pull -> dvc repro -> quality gate -> dvc push -> commit dvc.lock and the metrics
# then a summary of what changed since the last results commit (stdout, and the GitHub job
# summary when $GITHUB_STEP_SUMMARY is set). Nothing is pushed or committed when a stage or the
# quality gate fails.
#
#   RETRAIN_REMOTE=name   DVC remote to pull from and push to (default: the default remote)
#   RETRAIN_COMMIT=0      leave the results uncommitted (default 1: commit them)
#   RETRAIN_GIT_PUSH=1    push the results commit to origin (CI; default 0)
#   RETRAIN_BRANCH=name   branch to push to (default: $GITHUB_REF_NAME, else the current branch)
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
export DVC_NO_ANALYTICS=1 MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true GX_ANALYTICS_ENABLED=false
PY=${PYTHON:-python}
remote=()
if [ -n "${RETRAIN_REMOTE:-}" ]; then remote=(--remote "$RETRAIN_REMOTE"); fi
step() { printf '\n== retrain: %s\n' "$*"; }

# The git-tracked pipeline outputs (cache: false) that a results commit carries, besides dvc.lock.
tracked_outputs() {
  "$PY" -c 'from pathlib import Path; from actionrec.lineage import dvcfiles; print(*dvcfiles.git_tracked_outputs(Path(".")), sep="\n")'
}

step "pull data, models and the run cache ${RETRAIN_REMOTE:+from $RETRAIN_REMOTE}"
# --allow-missing: outputs of stages that never ran are not on the remote yet; repro makes them.
dvc pull --run-cache --allow-missing "${remote[@]}"

step "reproduce (only the stages whose inputs changed)"
dvc repro

step "quality gate"
# the package stage's own rule and params (package.quality_gate), see actionrec/packaging/gate.py
"$PY" -m actionrec.packaging.gate || { echo "quality gate FAILED: nothing pushed" >&2; exit 1; }

step "push data, models and the run cache"
dvc push --run-cache "${remote[@]}"

step "summary"
last=$(git log -1 --format=%H -- dvc.lock 2>/dev/null || true)
summary=$(mktemp)
{
  echo "## Retrain of $(git rev-parse --short HEAD)"
  if [ -n "$last" ]; then
    echo
    echo "### Commits since the last results ($(git rev-parse --short "$last"))"
    echo '```'
    git log --oneline "$last"..HEAD | head -50
    git diff --stat "$last" HEAD -- data params.yaml dvc.yaml stages actionrec | tail -20
    echo '```'
    echo
    echo "### Params"
    dvc params diff --md "$last" || true
  fi
  echo
  echo "### Metrics (new vs committed)"
  dvc metrics diff --md HEAD || true
  if [ -d reports/predictions ]; then
    echo
    echo "### Confusion matrices (test clips)"
    "$PY" scripts/confusion_summary.py reports/predictions || true
  fi
} > "$summary"
cat "$summary"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$summary" >> "$GITHUB_STEP_SUMMARY"; fi
rm -f "$summary"

mapfile -t outputs < <(tracked_outputs)
files=(dvc.lock)
for f in "${outputs[@]}"; do
  if [ -e "$f" ] && ! git check-ignore -q "$f"; then files+=("$f"); fi
done
if [ "${RETRAIN_COMMIT:-1}" != 1 ]; then
  step "results left uncommitted (RETRAIN_COMMIT=${RETRAIN_COMMIT})"
  exit 0
fi
git add -- "${files[@]}"
if git diff --cached --quiet; then
  step "nothing changed: no commit"
  exit 0
fi
step "commit dvc.lock and the metrics"
git commit -q -m "retrain: results for $(git rev-parse --short HEAD)" -m "dvc repro on $(hostname); data and models pushed to the DVC remote."
git log -1 --stat --format='%h %s'
if [ "${RETRAIN_GIT_PUSH:-0}" = 1 ]; then
  branch=${RETRAIN_BRANCH:-${GITHUB_REF_NAME:-$(git branch --show-current)}}
  step "push the results commit to origin/$branch"
  git push origin "HEAD:refs/heads/$branch"
fi
