"""DVC stage validate: Great Expectations checks of every landmark CSV and extracted clip.

Fails the pipeline (before any training) when a file breaks an expectation; the report in
reports/validation/ names the file, the expectation and example rows.
"""
from __future__ import annotations

from pathlib import Path

from actionrec.data.corpus import LANDMARKS_DIR, extracted_index
from actionrec.data.landmarks import DataError, landmark_csvs, read_landmark_csv
from actionrec.config.params import Params
from actionrec.config.stage import StageError, run_stage
from actionrec.data.validation import FileReport, format_failure, validate_clip_index, validate_landmark_table, write_reports

OUT = Path("reports/validation")


def _csv_reports(params: Params) -> list[FileReport]:
    reports = []
    for path in landmark_csvs(params.data.landmarks_dir):
        try:
            lf = read_landmark_csv(path)
        except DataError as exc:
            raise StageError(str(exc)) from None
        reports.append(
            validate_landmark_table(
                lf.table, lf.schema, str(path), params.validate_.landmarks, lf.rejected,
                sessions=lf.sessions, rows=lf.table.index.to_numpy(),
            )
        )
    return reports


@run_stage("validate")
def main(params: Params) -> str:
    reports = _csv_reports(params)
    index = extracted_index(LANDMARKS_DIR)
    if not index.empty:
        reports.append(validate_clip_index(index, str(LANDMARKS_DIR / "index.csv"), params.validate_.clips))
    if not reports:
        raise StageError(f"no data: no CSV in {params.data.landmarks_dir} and no clip in {params.data.videos_dir}")
    write_reports(reports, OUT)
    failed = [r for r in reports if not r.success]
    if failed:
        raise StageError("\n".join(format_failure(r) for r in failed) + f"\n(full report: {OUT}/summary.md)")
    rows = sum(r.n_rows for r in reports)
    rejected = sum(len(r.rejected_rows) for r in reports)
    return f"{len(reports)} files passed, {rows} rows, {rejected} malformed rows excluded"


if __name__ == "__main__":
    main()
