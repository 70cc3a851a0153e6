"""DVC stage split: the usable corpus (data/processed/corpus, the extracted clips validation keeps)
and a deterministic, leak-free train/val/test manifest of frame segments of it."""

from __future__ import annotations

from actionrec.config import paths
from actionrec.config.params import Params
from actionrec.config.stage import run_stage
from actionrec.core.io import write_json, write_text
from actionrec.data.corpus import extracted_index, load_recordings
from actionrec.data.split import check_no_leak, make_split, official_assignments, split_report
from actionrec.data.usable import usable_ids, write_corpus


@run_stage("split")
def main(params: Params) -> str:
    keep = usable_ids(extracted_index(paths.INTERIM_LANDMARKS), params.validate_.clips)
    n_clips = write_corpus(paths.INTERIM_LANDMARKS, paths.CORPUS_LANDMARKS, keep)
    write_corpus(paths.INTERIM_CLIPS, paths.CORPUS_CLIPS, keep)
    recordings = load_recordings(params.data.landmarks_dir, paths.CORPUS_LANDMARKS)
    official = official_assignments(recordings, params.data.videos_dir, params.split.official_split)
    split = make_split(recordings, params.split, params.seed, official)
    check_no_leak(split)
    report = split_report(split, params.split.strategy)
    write_text(paths.SPLIT, split.to_csv(index=False))
    write_json(paths.SPLIT_REPORT, report)
    counts = split.groupby("subset")["session_id"].nunique().to_dict()
    note = f"; temporal split for {report['temporal_classes']}" if report["temporal_classes"] else ""
    subsets = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    return f"{len(recordings)} recordings ({n_clips} usable clips) -> {subsets}{note}"


if __name__ == "__main__":
    main()
