"""DVC stage check_params: all of params.yaml is checked before any other stage runs.

Every other stage depends on this stage's constant output, so DVC runs it first; it depends on
the whole params.yaml file, so any edit re-runs it, including one to a key no stage reads. An
unknown, missing or ill-typed key anywhere fails it with the key's name, and `dvc repro` stops
before any other stage has removed or rewritten an output.
"""

from __future__ import annotations

from actionrec.config.params import Params
from actionrec.config.paths import PARAMS_CHECKED
from actionrec.config.stage import run_stage
from actionrec.core.io import write_text


@run_stage("check_params")
def main(params: Params) -> str:
    checked = "params.yaml: every key known, well typed and present"
    write_text(PARAMS_CHECKED, checked + "\n")  # constant: no downstream re-run
    return checked


if __name__ == "__main__":
    main()
