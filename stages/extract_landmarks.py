"""DVC stage extract_landmarks: every clip under data.videos_dir -> data/interim/landmarks (incremental).

Results come from a content-addressed per-clip cache (clip bytes + params), so after adding
one clip only that clip is computed, and a changed clip or param can never be served stale.
"""
from __future__ import annotations

from pathlib import Path

from actionrec.extract import run_extraction
from actionrec.params import Params
from actionrec.stage import StageError, run_stage
from actionrec.datasets import DataError
from actionrec.videoset import list_clips

OUT = Path("data/interim/landmarks")


@run_stage("extract_landmarks")
def main(params: Params) -> str:
    try:
        clips = list_clips(params.data.videos_dir, params.data.labels)
    except DataError as exc:
        raise StageError(str(exc)) from None
    index = run_extraction(clips, OUT, None, params.extract_landmarks, kind="landmarks")
    bad = index[index["status"] != "ok"]
    cached = int(index["cached"].sum()) if len(index) else 0
    return f"{len(index)} clips ({cached} from cache), {len(bad)} unusable"


if __name__ == "__main__":
    main()
