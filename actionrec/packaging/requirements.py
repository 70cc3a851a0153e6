"""The live bundle's requirements.txt, derived from what its vendored code imports, and the check
that the bundle works with nothing else: exact pins of the installed versions, no torch for a
scikit-learn bundle, every unpinned package unimportable while it is checked."""

from __future__ import annotations

import ast
import json
import os
import site
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import cast

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from actionrec.config.stage import StageError
from actionrec.packaging.pins import CPU_INDEX_LINE, cuda_only, public_version

CHECK_SCRIPT = Path(__file__).with_name("bundle_check.py")


def third_party_imports(path: Path) -> set[str]:
    """Top-level names of every import in a module (also inside functions), except the
    ``if TYPE_CHECKING:`` ones, the standard library and actionrec itself."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for n in ast.walk(stmt)
    }
    names = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", "actionrec"}


def direct_requirements(files: Sequence[Path]) -> tuple[str, ...]:
    """The distributions that the modules ``files`` import, found from their code."""
    owners = metadata.packages_distributions()
    direct, missing = set(), []
    for path in files:
        for name in sorted(third_party_imports(path)):
            if name not in owners:
                missing.append(f"{path} imports {name}, which no installed distribution provides")
            direct |= {canonicalize_name(d) for d in owners.get(name, [])}
    if missing:
        raise StageError(
            "the bundle's requirements cannot be derived:\n  "
            + "\n  ".join(missing)
            + "\n(install it or drop the import)"
        )
    return tuple(sorted(direct))


def requirement_closure(direct: tuple[str, ...]) -> dict[str, str]:
    """Installed version of every distribution ``direct`` needs, transitively (extras excluded;
    without torch's CUDA packages: the bundle takes torch's CPU build, see requirements_txt)."""
    env = {**cast(dict[str, str], default_environment()), "extra": ""}
    pins: dict[str, str] = {}
    todo = list(direct)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in pins:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name in map(canonicalize_name, direct):
                raise StageError(f"the bundle needs {name}, which is not installed") from None
            continue  # an optional dependency this platform does not use
        pins[name] = dist.version
        for spec in dist.requires or []:
            req = Requirement(spec)
            if (req.marker is None or req.marker.evaluate(env)) and not cuda_only(req.name):
                todo.append(req.name)
    return pins


def requirements_txt(pins: dict[str, str], direct: tuple[str, ...]) -> str:
    """Exact pins, installable from PyPI: torch as its CPU build (``torch==X`` + the PyTorch CPU
    index, like requirements/lock-cpu.txt); any other local version (``X+local``) is refused."""
    local = [f"{n}=={v}" for n, v in sorted(pins.items()) if n != "torch" and public_version(v) != v]
    if local:
        raise StageError(
            f"the bundle would pin local builds that no public index serves: {', '.join(local)}; "
            "install the public releases of these packages and re-run"
        )
    lines = [
        "# Exact pins for the live bundle (installed versions when it was packaged).",
        "# Direct (what the vendored modules import): " + ", ".join(direct) + "; the rest are their dependencies.",
        *(
            [
                "# torch: its CPU build from the PyTorch CPU index (PyPI's Linux wheel is the CUDA build).",
                CPU_INDEX_LINE,
            ]
            if "torch" in pins
            else []
        ),
        *(
            f"{metadata.distribution(name).metadata['Name']}=={public_version(version)}"
            for name, version in sorted(pins.items())
        ),
    ]
    return "\n".join(lines) + "\n"


def module_name(rel: Path) -> str:
    """``actionrec/core/schema.py`` -> ``actionrec.core.schema`` (a package: its ``__init__``'s name)."""
    return ".".join(rel.with_suffix("").parts).removesuffix(".__init__")


def check_imports(bundle: Path, manifests: list[Path], pins: dict[str, str], vendored: Sequence[Path]) -> None:
    """Every package the vendored modules (paths relative to ``bundle``) import is pinned in
    requirements.txt, and with only the bundle (no installed actionrec) on top of sys.path and
    every installed package outside requirements.txt made unimportable, they import, load every
    model and run the entry point's ``--help`` (:mod:`actionrec.packaging.bundle_check`)."""
    owners = metadata.packages_distributions()
    outside = []
    for rel in vendored:
        for name in sorted(third_party_imports(bundle / rel)):
            dists = {canonicalize_name(d) for d in owners.get(name, [])}
            if not dists & pins.keys():
                origin = f"from {', '.join(sorted(dists))}" if dists else "not installed"
                outside.append(f"{rel.as_posix()} imports {name} ({origin})")
    if outside:
        raise StageError("the vendored modules import packages outside requirements.txt:\n  " + "\n  ".join(outside))
    unpinned = sorted(
        top
        for top, dists in owners.items()
        if top != "actionrec" and not {canonicalize_name(d) for d in dists} & pins.keys()
    )
    args = [
        str(bundle.resolve()),
        [str(m.resolve()) for m in manifests],
        [module_name(rel) for rel in vendored],
        site.getsitepackages(),
        unpinned,
    ]
    # -I -S: no .pth files, so no editable install of actionrec; -B: no __pycache__ in the bundle
    proc = subprocess.run(
        [os.path.abspath(sys.executable), "-I", "-S", "-B", str(CHECK_SCRIPT), *map(json.dumps, args)],
        capture_output=True,
        text=True,
        cwd=bundle,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
        raise StageError(
            f"the bundle does not work on its own (its modules first on sys.path, no actionrec installed):\n{tail}"
        )
