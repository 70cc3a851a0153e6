"""DVC stage split: a deterministic, leak-free train/val/test manifest of frame segments."""
from __future__ import annotations

import logging
from pathlib import Path

from actionrec.data.corpus import LANDMARKS_DIR, extracted_index, load_recordings
from actionrec.config.params import Params
from actionrec.data.split import check_no_leak, make_split, read_official_split, split_summary
from actionrec.config.stage import run_stage
from actionrec.core.io import write_json, write_text
from actionrec.data.validation import usable_clips

OUT = Path("data/processed/split.csv")
REPORT = Path("reports/split.json")
log = logging.getLogger("actionrec.data.split")


@run_stage("split")
def main(params: Params) -> str:
    recordings = load_recordings(params.data.landmarks_dir)
    index = extracted_index(LANDMARKS_DIR)
    if not index.empty:
        excluded = set(index.loc[~usable_clips(index, params.validate_.clips), "clip"])
        if excluded:
            log.warning("excluding %d clips that failed validation: %s", len(excluded), ", ".join(sorted(excluded)[:10]))
        recordings = [r for r in recordings if r.session_id not in excluded]
    official = {}
    if params.split.official_split is not None:
        official = read_official_split(params.data.videos_dir, params.split.official_split)
        missing = sorted(set(official) - {r.session_id for r in recordings})
        if missing:
            log.warning(
                "%d clips listed in %s split %d are missing or were excluded: %s",
                len(missing), params.data.videos_dir, params.split.official_split, ", ".join(missing[:10]),
            )
    split = make_split(recordings, params.split, params.seed, official)
    check_no_leak(split)
    summary = split_summary(split)
    write_text(OUT, split.to_csv(index=False))
    temporal = sorted(set(split.loc[split["method"] == "temporal", "label"]))
    write_json(
        REPORT,
        {
            "strategy": params.split.strategy,
            "methods": sorted(set(split["method"])),
            "temporal_classes": temporal,
            "per_class": summary.to_dict(orient="records"),
        },
    )
    counts = split.groupby("subset")["session_id"].nunique().to_dict()
    note = f"; temporal split for {temporal}" if temporal else ""
    return f"{len(recordings)} recordings -> " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + note


if __name__ == "__main__":
    main()
