"""`actionrec` command line (also `python -m actionrec`)."""

from __future__ import annotations

import argparse
import logging
import sys
from importlib import metadata
from pathlib import Path

import actionrec

DEMO_LANDMARKS = Path("data/raw/landmarks")
DEMO_VIDEOS = Path("data/raw/videos")


def _demo_data(args: argparse.Namespace) -> int:
    from actionrec.data.demo.landmarks import generate_demo_landmarks
    from actionrec.data.demo.videos import generate_demo_videos

    csvs = generate_demo_landmarks(args.landmarks, seed=args.seed)
    clips = generate_demo_videos(args.videos, seed=args.seed)
    print(f"demo data: {len(csvs)} landmark sessions in {args.landmarks}, {len(clips)} clips in {args.videos}")
    return 0


def _import_ucf101(args: argparse.Namespace) -> int:
    from actionrec.config.params import load_params
    from actionrec.data.videoset import import_ucf101

    classes = args.classes or load_params(args.params).data.labels
    n = import_ucf101(args.src, args.splits, args.dest, classes)
    print(f"imported {n} clips of {len(classes)} classes into {args.dest}; next: dvc add {args.dest} && dvc repro")
    return 0


def _image_size(text: str) -> tuple[int, int]:
    """``640x480`` -> (640, 480)."""
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise argparse.ArgumentTypeError(f"'{text}' is not WxH in pixels, e.g. 1920x1080")
    return int(width), int(height)


def _import_landmarks(args: argparse.Namespace) -> int:
    from actionrec.config.params import load_params
    from actionrec.data.importers.common import ImportFailure, label_warning, safe_name, write_sessions
    from actionrec.data.importers.detect import read_source
    from actionrec.data.importers.structure import Grouping

    params = load_params(args.params)
    limits = params.validate_.landmarks
    grouping = Grouping(
        args.session_column, args.per_file, args.independent_frames, limits.min_rows_per_session, args.fps
    )
    name = safe_name(args.name or args.src.resolve().name.removesuffix(".csv"))
    dest = args.dest / name
    try:
        result = read_source(
            args.src, grouping, limits.max_bad_row_share, name, args.layout, args.skip_bad, args.image_size
        )
        print(result.summary())
        if not args.dry_run:
            write_sessions(result, dest, args.force)
    except ImportFailure as exc:
        print(f"actionrec import: {exc}", file=sys.stderr)
        print("nothing was written; the source is unchanged", file=sys.stderr)
        return 1
    if args.dry_run:
        print(f"dry run: nothing written (would write {len(result.recordings)} session CSVs to {dest})")
        return 0
    print(f"wrote {len(result.recordings)} session CSVs to {dest}; next: dvc add {args.dest} && dvc repro")
    if warning := label_warning(result, params.data.labels, args.params):
        print(f"actionrec import: warning: {warning}", file=sys.stderr)
    if result.independent_frames and params.split.strategy != "random_frames":
        print(
            "rows declared independent frames: set split.strategy: random_frames in params.yaml for a frame split "
            "(reports/split.json, the leaderboard and every MLflow run trained on it then carry the leak warning; "
            "else each class of a file is cut in time)"
        )
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    path = Path("reports/leaderboard.md")
    if not path.is_file():
        print("no leaderboard yet: run `dvc repro`", file=sys.stderr)
        return 1
    print(path.read_text())
    return 0


def _serve(args: argparse.Namespace) -> int:
    from actionrec.serving.bundle import BundleError
    from actionrec.serving.web.app import ServeOptions, serve

    options = ServeOptions(
        args.max_upload_mb, args.url_deadline_s, args.allow_private_urls, args.workers, args.max_queue
    )
    try:
        return serve(args.bundle, args.host, args.port, options)
    except (BundleError, ValueError) as exc:
        print(f"actionrec serve: {exc}", file=sys.stderr)
        return 1


def _live(args: argparse.Namespace) -> int:
    from actionrec.serving.live import main as live_main

    return live_main(args.args, prog="actionrec live")


def _record(args: argparse.Namespace) -> int:
    from actionrec.serving.record import main as record_main

    return record_main(args.args, prog="actionrec record")


def _delegating_parser(sub: argparse._SubParsersAction, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand whose arguments (and --help) its module's own parser handles, so the module
    is imported only when the subcommand runs: every argument is passed through untouched."""
    p = sub.add_parser(name, help=help_text, add_help=False, prefix_chars="\0")
    p.add_argument("args", nargs=argparse.REMAINDER, help=f"see `actionrec {name} --help`")
    return p


def version() -> str:
    """The installed distribution's version, else the package's own (run from a source tree)."""
    try:
        return metadata.version("actionrec")
    except metadata.PackageNotFoundError:
        return actionrec.__version__


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    """demo-data, import-ucf101 and leaderboard."""
    p = sub.add_parser(
        "demo-data",
        help="generate the embedded demo data (deterministic from a seed)",
        description="Generate the demo landmark sessions and clips (the same bytes for the same seed).",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument(
        "--landmarks", type=Path, default=DEMO_LANDMARKS, help="where session CSVs go (default: %(default)s)"
    )
    p.add_argument(
        "--videos",
        type=Path,
        default=DEMO_VIDEOS,
        help="where demo clips go, one folder per class (default: %(default)s)",
    )
    p.set_defaults(func=_demo_data)

    p = sub.add_parser(
        "import-ucf101",
        help="copy a UCF101 subset (classes from params.yaml) and its split lists",
        description="Copy the clips of some UCF101 classes and their official split lists into the "
        "project's raw videos; then dvc add them and dvc repro.",
    )
    p.add_argument("src", type=Path, help="UCF101 folder with one sub-folder per class")
    p.add_argument("--splits", type=Path, help="folder with classInd.txt, trainlist0N.txt, testlist0N.txt")
    p.add_argument("--dest", type=Path, default=DEMO_VIDEOS, help="where the clips go (default: %(default)s)")
    p.add_argument("--classes", nargs="+", help="classes to copy (default: data.labels of --params)")
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: %(default)s)")
    p.set_defaults(func=_import_ucf101)

    _add_import_command(sub)
    p = sub.add_parser("leaderboard", help="print reports/leaderboard.md")
    p.set_defaults(func=_leaderboard)


def _add_import_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="convert other people's landmark files (coords.csv, MP_Data, keypoint arrays) into session CSVs",
        description="Detect the format of SRC, read it without changing it, print what was read, and write one "
        "session CSV per recording into DEST/NAME (all or nothing). Then dvc add DEST and dvc repro.",
    )
    p.add_argument(
        "src", type=Path, help="a .csv, a folder of .csv, an MP_Data folder or a folder of class folders of arrays"
    )
    p.add_argument("--dest", type=Path, default=DEMO_LANDMARKS, help="landmarks folder (default: %(default)s)")
    p.add_argument("--name", help="sub-folder of DEST and session-id prefix (default: the source's name)")
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: %(default)s)")
    p.add_argument("--session-column", metavar="NAME", help="column saying which recording each CSV row is from")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--per-file", action="store_true", help="each file (per class) is one recording")
    how.add_argument(
        "--independent-frames",
        action="store_true",
        help="rows are independent frames of distinct videos (leaky opt-in)",
    )
    p.add_argument(
        "--layout",
        help="joint layout of (T, J, C) arrays (default: the one whose J matches): mediapipe_pose (J=33), "
        "mediapipe_pose_face (501), mediapipe_holistic (543), coco17 (17), openpose_body25 (25)",
    )
    p.add_argument(
        "--image-size",
        type=_image_size,
        metavar="WxH",
        help="width x height in pixels of the images coco17 / openpose_body25 keypoints were found in (x / W, y / H)",
    )
    p.add_argument(
        "--fps",
        type=float,
        default=30.0,
        help="frame rate for timestamps when the source has none (default: %(default)s)",
    )
    p.add_argument("--skip-bad", action="store_true", help="leave out (and list) broken sequences instead of failing")
    p.add_argument("--force", action="store_true", help="replace DEST/NAME if it exists")
    p.add_argument("--dry-run", action="store_true", help="read and summarise only")
    p.set_defaults(func=_import_landmarks)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actionrec",
        description="Reproducible human action recognition from "
        "MediaPipe landmarks and video: data, training, lineage, serving.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_data_commands(sub)

    p = _delegating_parser(
        sub, "live", "recognise actions live: webcam, video file or stream (window or --headless JSON lines)"
    )
    p.set_defaults(func=_live)

    p = _delegating_parser(sub, "record", "record labelled landmark sessions (webcam or video) into new session CSVs")
    p.set_defaults(func=_record)

    p = sub.add_parser(
        "serve",
        help="web app: upload a video, get the predicted action (packaged bundle)",
        description="Web app: upload a video (or give its URL) and get the predicted action, class "
        "probabilities and a timeline, from the packaged live bundle.",
    )
    p.add_argument(
        "--bundle",
        type=Path,
        default=Path("models/package"),
        help="live bundle, written by the package stage of dvc repro (default: %(default)s)",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s: this machine)")
    p.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one, printed (default: %(default)s)")
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=50.0,
        metavar="MB",
        help="larger uploads get HTTP 413 (default: %(default)s)",
    )
    p.add_argument(
        "--url-deadline-s",
        type=float,
        default=30.0,
        metavar="S",
        help="a URL must deliver the whole video within this many seconds, else HTTP 504 (default: %(default)s)",
    )
    p.add_argument(
        "--allow-private-urls",
        action="store_true",
        help="also fetch URLs resolving to loopback, private or link-local addresses (refused by default: SSRF)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="videos analysed in parallel, each with its own warm MediaPipe (default: %(default)s)",
    )
    p.add_argument(
        "--max-queue",
        type=int,
        default=8,
        help="requests waiting for a worker beyond which new ones get HTTP 503 (default: %(default)s)",
    )
    p.set_defaults(func=_serve)

    from actionrec.evaluation import crossval
    from actionrec.lineage import compare, pipeline_run, reproduce
    from actionrec.packaging import registry  # light modules: their heavy imports are inside

    pipeline_run.add_parser(sub)
    reproduce.add_parser(sub)
    registry.add_parser(sub)
    compare.add_parser(sub)
    crossval.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.func(args)
