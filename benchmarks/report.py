"""`make bench`: every serving/extraction benchmark in one run, side by side, into
reports/benchmarks.md with the machine it ran on and each target beside its figure.

Runs benchmarks/bench_live.py (live overhead over MediaPipe alone), bench_web.py (web answer vs
MediaPipe alone, two parallel requests vs one) and bench_extraction.py for 1, 2 and 4 workers, each
as a subprocess, and keeps their full output below the table. Figures are meaningless on a busy
machine: the load average before and after is written beside them.

    python benchmarks/report.py [--bundle models/package] [--out reports/benchmarks.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from actionrec.core.io import atomic_path  # noqa: E402

NOISE = ("W0000 ", "I0000 ", "INFO: Created TensorFlow", "WARNING: All log messages")


def machine() -> str:
    cpu = (
        next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else "?"
    )
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    system = f"{platform.platform()}, Python {platform.python_version()}"
    return f"{platform.node()}: {os.cpu_count()} CPUs ({cpu}), {mem:.0f} GiB, {system}"


def run(script: str, *args: str) -> str:
    cmd = [sys.executable, str(REPO / "benchmarks" / script), *args]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    out = "\n".join(ln for ln in (done.stdout + done.stderr).splitlines() if not ln.startswith(NOISE))
    return f"$ {' '.join(cmd[1:])}\n{out}" + ("" if done.returncode == 0 else f"\n(exit {done.returncode})")


def grab(text: str, pattern: str) -> str:
    found = re.search(pattern, text)
    return found.group(1) if found else "not measured (see the output)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=REPO / "models/package")
    parser.add_argument("--out", type=Path, default=REPO / "reports/benchmarks.md")
    args = parser.parse_args()
    load0, start = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    live = run("bench_live.py", "--bundle", str(args.bundle))
    web = run("bench_web.py", "--bundle", str(args.bundle))
    extraction = {n: run("bench_extraction.py", "--workers", str(n)) for n in (1, 2, 4)}
    load1 = os.getloadavg()
    rows = [
        (
            "live: full pipeline / MediaPipe alone, median per frame",
            grab(live, r"ratio \(b\)/\(a\) of medians: ([\d.]+)"),
            "<= 1.03",
        ),
        (
            "web: answer for a clip / MediaPipe alone on its frames",
            grab(web, r"ratio web answer / MediaPipe alone: ([\d.]+)"),
            "<= 1.3",
        ),
        ("web: two requests in parallel / one", grab(web, r"ratio two parallel / one: ([\d.]+)"), "< 2"),
    ]
    rows += [
        (
            f"extraction: {n} worker(s) / sequential loop",
            grab(text, r"speed-up: ([\d.]+)x"),
            ">= 1.45 (2 workers, idle 2 cores)",
        )
        for n, text in extraction.items()
    ]
    lines = [
        "# Benchmarks (`make bench`)",
        "",
        f"Run {start} on {machine()}.",
        f"Load average before {load0[0]:.2f}, after {load1[0]:.2f} (other load skews the figures).",
        "",
        "| ratio | measured | target |",
        "|---|---|---|",
        *(f"| {name} | {value} | {target} |" for name, value, target in rows),
        "",
        "## Outputs",
        "",
        *(f"```\n{text}\n```\n" for text in (live, web, *extraction.values())),
    ]
    with atomic_path(args.out) as tmp:
        tmp.write_text("\n".join(lines))
    print("\n".join(lines[: len(rows) + 8]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
