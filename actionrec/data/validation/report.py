"""Validation reports for people: the stage's failure message, per-file JSON and a summary."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from actionrec.core.io import write_text
from actionrec.data.validation.checks import CheckResult, FileReport, jsonable


def _observed_text(observed: Any) -> str:
    """``3 rows (0.03%), e.g. [1.7, 2.0]`` for row checks, the value itself otherwise."""
    if isinstance(observed, dict) and "unexpected_count" in observed:
        percent = observed.get("unexpected_percent") or 0.0
        return (f"{observed['unexpected_count']} rows ({percent:.2f}%), "
                f"e.g. {jsonable(observed['examples'])}")
    return str(jsonable(observed))


def _check_line(check: CheckResult) -> str:
    column = f" on {check.column}" if check.column else ""
    rows = f"; example rows {check.example_rows}" if check.example_rows else ""
    return (f"{check.expectation}{column}: observed {_observed_text(check.observed)}{rows} "
            f"[expected {check.details}]")


def _notes(report: FileReport, limit: int) -> list[str]:
    """Excluded clips and rejected rows, at most ``limit`` of each."""
    notes = [f"excluded clip {e['clip']} (row {e['row']}): {e['reason']}"
             for e in report.excluded[:limit]]
    notes += [f"rejected line {r.get('line')}: {r.get('reason')}"
              for r in report.rejected_rows[:limit]]
    hidden = max(0, len(report.excluded) - limit) + max(0, len(report.rejected_rows) - limit)
    return notes + ([f"... and {hidden} more"] if hidden else [])


def excluded_clip_lines(reports: list[FileReport]) -> list[str]:
    """One console line per clip left out of training, with its reason."""
    return [f"excluded clip {e['clip']} ({e['label']}): {e['reason']}" for r in reports for e in r.excluded]


def format_failure(report: FileReport) -> str:
    """A message for the stage to raise: file, failed expectations, observed, example rows."""
    outcome = "passed" if report.success else "failed"
    lines = [f"validation {outcome} for {report.source} ({report.n_rows} rows, "
             f"{len(report.failures())} of {len(report.checks)} checks failed):"]
    lines += [f"  - {_check_line(c)}" for c in report.failures()]
    lines += [f"  * {note}" for note in _notes(report, limit=5)]
    return "\n".join(lines)


def _safe_name(source: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("_.") or "report"


def _summary_markdown(reports: list[FileReport], names: list[str]) -> str:
    n_failed = sum(not r.success for r in reports)
    lines = ["# Data validation", "",
             f"{len(reports)} files, {n_failed} failed.", "",
             "| file | rows | checks passed | rejected rows | excluded | result |",
             "|---|---|---|---|---|---|"]
    for report, name in zip(reports, names, strict=True):
        passed = sum(c.success for c in report.checks)
        lines.append(f"| [{report.source}]({name}) | {report.n_rows} | "
                     f"{passed}/{len(report.checks)} | {len(report.rejected_rows)} | "
                     f"{len(report.excluded)} | {'ok' if report.success else '**FAILED**'} |")
    for report in reports:
        notes = _notes(report, limit=50)
        if report.success and not notes:
            continue
        lines += ["", f"## {report.source}", ""]
        lines += [f"- **FAILED** `{_check_line(c)}`" for c in report.failures()]
        lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def write_reports(reports: list[FileReport], out_dir: Path) -> Path:
    """Write ``<source>.json`` per report, ``summary.json`` and ``summary.md``; returns the
    path of ``summary.json``. Every file is replaced atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    for report in reports:
        base = _safe_name(report.source)
        name, n = f"{base}.json", 2
        while name in names or name == "summary.json":
            name, n = f"{base}-{n}.json", n + 1
        names.append(name)
        write_text(out_dir / name, json.dumps(report.to_dict(), indent=2, allow_nan=False))
    summary = {
        "success": all(r.success for r in reports),
        "n_files": len(reports),
        "n_failed": sum(not r.success for r in reports),
        "files": [
            {"source": r.source, "report": name, "success": r.success, "n_rows": r.n_rows,
             "n_rejected_rows": len(r.rejected_rows), "n_excluded": len(r.excluded),
             "failures": [{"expectation": c.expectation, "column": c.column}
                          for c in r.failures()]}
            for r, name in zip(reports, names, strict=True)
        ],
    }
    path = out_dir / "summary.json"
    write_text(path, json.dumps(summary, indent=2, allow_nan=False))
    write_text(out_dir / "summary.md", _summary_markdown(reports, names))
    return path
