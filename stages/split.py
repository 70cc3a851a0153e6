"""DVC stage split: a deterministic, leak-free train/val/test manifest of frame segments."""

from __future__ import annotations

from actionrec.config import paths
from actionrec.config.params import Params
from actionrec.config.stage import run_stage
from actionrec.core.io import write_json, write_text
from actionrec.data.corpus import usable_recordings
from actionrec.data.split import check_no_leak, make_split, official_assignments, split_report


@run_stage("split")
def main(params: Params) -> str:
    recordings = usable_recordings(params.data.landmarks_dir, params.validate_.clips)
    official = official_assignments(recordings, params.data.videos_dir, params.split.official_split)
    split = make_split(recordings, params.split, params.seed, official)
    check_no_leak(split)
    report = split_report(split, params.split.strategy)
    write_text(paths.SPLIT, split.to_csv(index=False))
    write_json(paths.SPLIT_REPORT, report)
    counts = split.groupby("subset")["session_id"].nunique().to_dict()
    note = f"; temporal split for {report['temporal_classes']}" if report["temporal_classes"] else ""
    return f"{len(recordings)} recordings -> " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + note


if __name__ == "__main__":
    main()
