"""DVC stages extract_landmarks / extract_clips: every clip under data.videos_dir -> data/interim/<kind>.

`python stages/extract.py landmarks` runs MediaPipe Holistic per clip; `... clips` stores
resized uint8 frame clips. Results come from a content-addressed per-clip cache (clip bytes +
params), so after adding one clip only that clip is computed, and a changed clip or param can
never be served stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from actionrec.config.params import Params
from actionrec.config.stage import StageError, run_stage
from actionrec.data.landmarks import DataError
from actionrec.data.videoset import list_clips
from actionrec.extraction.cache import Kind
from actionrec.extraction.run import run_extraction

KINDS: dict[Kind, str] = {"landmarks": "extract_landmarks", "clips": "extract_clips"}


def stage(kind: Kind):
    """The stage body for ``kind`` ('landmarks' or 'clips')."""

    @run_stage(KINDS[kind])
    def main(params: Params) -> str:
        try:
            clips = list_clips(params.data.videos_dir, params.data.labels)
        except DataError as exc:
            raise StageError(str(exc)) from None
        stage_params = getattr(params, KINDS[kind])
        index = run_extraction(clips, Path("data/interim") / kind, None, stage_params, kind=kind)
        cached = int(index["cached"].sum()) if len(index) else 0
        return f"{len(index)} clips ({cached} from cache), {int((index['status'] != 'ok').sum())} unusable"

    return main


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in KINDS:
        sys.exit(f"usage: python {sys.argv[0]} {{{'|'.join(KINDS)}}}")
    stage(sys.argv[1])()
