"""Whether a reproduction agrees with its run: which comparison applies (exact when the kernel
fingerprints agree, else within a tolerance), metric by metric, and the table that shows it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from actionrec.core import kernels

TIMING_METRICS = {"fit_seconds", "seconds", "samples_per_s"}  # wall-clock: never reproducible
Out = Callable[[str], object]
Row = tuple[str, str, float | None, float | None, bool]  # run, metric, recorded, reproduced, agree


def comparable_metrics(run: Any) -> dict[str, float]:
    """An MLflow run's latest metrics but wall-clock timings (never reproducible)."""
    return {k: float(v) for k, v in run.data.metrics.items() if k not in TIMING_METRICS and not k.endswith("_seconds")}


def _agree(a: float | None, b: float | None, exact: bool, tol: float) -> bool:
    if a is None or b is None:
        return False
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b if exact else math.isclose(a, b, rel_tol=0.0, abs_tol=tol)


def _fmt(v: float | None) -> str:
    return "-" if v is None else repr(v)


def format_table(rows: list[Row]) -> str:
    """The recorded and reproduced metrics side by side, one row per run and metric."""
    header = ("run", "metric", "recorded", "reproduced", "")
    body = [(r, m, _fmt(a), _fmt(b), "ok" if same else "MISMATCH") for r, m, a, b, same in rows]
    widths = [max(len(str(x[i])) for x in [header, *body]) for i in range(5)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in body]
    return "\n".join(lines)


def comparison(recorded: dict[str, str], reproduced: dict[str, str] | None) -> tuple[bool, str]:
    """``(exact, why)``: metrics must agree exactly when both runs trained on the CPU with the same
    kernel fingerprint (``kernels.*`` tags: ISA of the kernels in use, BLAS/oneDNN/MKL, threads,
    library versions), else within ``reproduce.tolerance``."""
    if reproduced is None:
        return False, "no reproduced run to compare with"
    devices = {recorded.get("device", "cpu"), reproduced.get("device", "cpu")}
    if devices != {"cpu"}:
        trained, again = recorded.get("device", "cpu"), reproduced.get("device", "cpu")
        return False, f"trained on {trained}, reproduced on {again}: GPU kernels are not bit-stable"
    fp_a, fp_b = recorded.get("kernels.fingerprint"), reproduced.get("kernels.fingerprint")
    if not fp_a or not fp_b:
        which = "recorded" if not fp_a else "reproduced"
        return False, f"the {which} run has no kernel fingerprint (kernels.* tags): bits not comparable"
    if fp_a != fp_b:
        return False, "kernel fingerprints differ (" + "; ".join(kernels.differences(recorded, reproduced)) + ")"
    how = (
        "pinned AVX2 kernels"
        if recorded.get("kernels.pinned") == "true"
        else f"native kernels of a {recorded.get('kernels.cpu')} CPU"
    )
    threads = recorded.get("kernels.threads")
    return True, f"same kernel fingerprint {fp_a[:12]} on the CPU ({how}, {threads} threads, same library versions)"


def compare_runs(recorded_runs: list[Any], store: str, tol: float, out: Out) -> tuple[list[Row], bool, list[str]]:
    """Each recorded run against its twin (same run name and stage) in the throw-away ``store``:
    ``(rows, all agree, per run: how it was compared and why)``."""
    import mlflow

    new = mlflow.MlflowClient(tracking_uri=store)
    # Every run of the throw-away store is the reproduction's (models it did not retrain have no
    # run record there, so evaluate logs nothing for them).
    reproduced = [r for e in new.search_experiments() for r in new.search_runs([e.experiment_id])]
    by_name = {(r.info.run_name, r.data.tags.get("dvc.stage")): r for r in reproduced}
    rows, ok, how = [], True, []
    for rec in recorded_runs:
        twin = by_name.get((rec.info.run_name, rec.data.tags.get("dvc.stage")))
        got, want = (comparable_metrics(twin) if twin else {}), comparable_metrics(rec)
        exact, why = comparison(rec.data.tags, twin.data.tags if twin else None)
        line = f"{rec.info.run_name}: compared {'EXACTLY' if exact else f'within tolerance {tol:g}'}: {why}"
        out(line)
        how.append(line)
        for key in sorted(set(want) | set(got)):
            same = _agree(want.get(key), got.get(key), exact, tol)
            ok &= same
            rows.append((rec.info.run_name, key, want.get(key), got.get(key), same))
    return rows, ok, how
