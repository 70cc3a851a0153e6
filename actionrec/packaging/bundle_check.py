"""Does a live bundle work on its own? Run by :func:`actionrec.packaging.requirements.check_imports`
in a fresh interpreter (``python -I -S -B``: no .pth files, so no editable install of actionrec,
and no ``__pycache__`` in the bundle) inside the bundle, with JSON arguments::

    bundle_check.py BUNDLE MANIFESTS MODULES SITE_PACKAGES UNPINNED

The bundle goes first on sys.path, site-packages after it, and every installed top-level package
outside the bundle's requirements.txt (UNPINNED) is made unimportable. It then imports every
vendored module, loads every bundled model, checks that no actionrec module came from outside
the bundle and runs the entry point's ``--help``. Standard library only until the bundle is on
sys.path.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import io
import json
import runpy
import sys
from collections.abc import Sequence
from types import ModuleType


class Unpinned(importlib.abc.MetaPathFinder):
    """Refuses packages that are installed here but not in the bundle's requirements.txt."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"{name} is not in the bundle's requirements.txt", name=name)
        return None


def main(argv: list[str]) -> int:
    bundle, manifests, modules, site, unpinned = (json.loads(a) for a in argv)
    sys.path[:0] = [bundle]
    sys.path += site
    sys.meta_path.insert(0, Unpinned(set(unpinned)))
    for name in modules:
        importlib.import_module(name)
    from actionrec.models.predictors import load_predictor

    for path in manifests:
        load_predictor(path)
    for name, module in sorted(sys.modules.items()):
        origin = getattr(module, "__file__", None) or bundle
        if name.split(".")[0] == "actionrec" and not origin.startswith(bundle):
            print(f"{name} was imported from {origin}, not from the bundle", file=sys.stderr)
            return 1
    sys.argv = ["live.py", "--help"]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            runpy.run_path(f"{bundle}/live.py", run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
