"""DVC stage validate: Great Expectations checks of every landmark CSV and extracted clip.

Fails the pipeline (before any training) when a file breaks an expectation; the report in
reports/validation/ names the file, the expectation and example rows.
"""

from __future__ import annotations

from actionrec.config import paths
from actionrec.config.params import Params
from actionrec.config.stage import StageError, run_stage
from actionrec.data.corpus import extracted_index
from actionrec.data.validation.clips import validate_clip_index
from actionrec.data.validation.landmarks import validate_landmark_csvs
from actionrec.data.validation.report import excluded_clip_lines, format_failure, write_reports


@run_stage("validate")
def main(params: Params) -> str:
    reports = validate_landmark_csvs(params.data.landmarks_dir, params.validate_.landmarks)
    index = extracted_index(paths.INTERIM_LANDMARKS)
    if not index.empty:
        source = str(paths.INTERIM_LANDMARKS / "index.csv")
        reports.append(validate_clip_index(index, source, params.validate_.clips))
    if not reports:
        raise StageError(f"no data: no CSV in {params.data.landmarks_dir} and no clip in {params.data.videos_dir}")
    write_reports(reports, paths.VALIDATION_REPORTS)
    failed = [r for r in reports if not r.success]
    if failed:
        message = "\n".join(format_failure(r) for r in failed)
        raise StageError(f"{message}\n(full report: {paths.VALIDATION_REPORTS}/summary.md)")
    for line in excluded_clip_lines(reports):
        print(f"[validate] {line}")
    rows = sum(r.n_rows for r in reports)
    rejected = sum(len(r.rejected_rows) for r in reports)
    return f"{len(reports)} files passed, {rows} rows, {rejected} malformed rows excluded"


if __name__ == "__main__":
    main()
