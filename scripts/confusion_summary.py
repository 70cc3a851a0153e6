#!/usr/bin/env python3
"""Markdown confusion matrices from reports/predictions/*.csv (columns ``actual``, ``predicted``).

For CI job summaries, which cannot show images: ``python scripts/confusion_summary.py reports/predictions``.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path


def matrix_markdown(path: Path) -> str:
    with path.open(newline="") as fh:
        pairs = [(row["actual"], row["predicted"]) for row in csv.DictReader(fh)]
    labels = sorted({a for a, _ in pairs} | {p for _, p in pairs})
    counts = Counter(pairs)
    correct = sum(counts[(label, label)] for label in labels)
    lines = [
        f"**{path.stem}**: {correct}/{len(pairs)} test clips right",
        "",
        "| actual \\ predicted | " + " | ".join(labels) + " |",
        "|---" * (len(labels) + 1) + "|",
    ]
    for actual in labels:
        cells = [f"**{counts[(actual, p)]}**" if p == actual else str(counts[(actual, p)]) for p in labels]
        lines.append(f"| {actual} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "reports/predictions")
    files = sorted(folder.glob("*.csv"))
    if not files:
        print(f"no predictions in {folder}: run `dvc repro` first")
        return 1
    print("\n".join(matrix_markdown(f) for f in files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
