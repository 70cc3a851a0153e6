"""``python -m actionrec.packaging.gate``: the package stage's quality gate on its own (``make
retrain`` runs it before it pushes): params.yaml's ``package`` section and reports/metrics.json,
the same rule as :func:`actionrec.packaging.selection.select`; exit 1 when it refuses."""

from __future__ import annotations

from actionrec.config.params import Params
from actionrec.config.stage import run_stage
from actionrec.packaging.selection import read_metrics, select


@run_stage("gate")
def main(params: Params) -> str:
    p = params.package
    choice = select(read_metrics(), p)
    print("\n".join(c.line(p.min_metric) for c in choice.candidates))
    best = choice.candidates[0]
    return (
        f"quality gate passed: best {best.key} {p.min_metric}={best.value:.3f}, served {choice.served.key} "
        f"{p.min_metric}={choice.served.value:.3f} >= package.quality_gate={p.quality_gate}"
    )


if __name__ == "__main__":
    main()
