"""The code ``deps`` of every stage of ``dvc.yaml``, computed from the imports.

Each stage depends on the import closure of its script (:mod:`actionrec.core.imports`);
``python -m actionrec.lineage.codedeps`` rewrites the deps lines, ``--check`` only reports, so
no edit to code that shapes an output can go unnoticed by ``dvc status``.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from actionrec.core.imports import PACKAGES, import_closure, module_file
from actionrec.lineage import dvcfiles

_CMD = re.compile(r"^python -m (?P<module>[\w.]+)")
_DEPS = re.compile(r"^(?P<indent> +)deps:\s*$")


# ------------------------------------------------------------------------ dvc.yaml code deps


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (tuple, list, set, frozenset)):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def vendored(root: Path) -> list[Path]:
    """The files the ``package`` stage copies into the bundle besides its imports (the entry point)
    or whose import closure holds every module it may vendor: each ``"<path>.py"`` of a module-level
    constant of actionrec/packaging/bundle.py (paths relative to the repository root)."""
    source = root / "actionrec" / "packaging" / "bundle.py"
    tree = ast.parse(source.read_text(), filename=str(source))
    found = set()
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            found |= {Path(s) for s in _strings(value) if s.endswith(".py") and (root / s).is_file()}
    if not found:
        raise ValueError(f"{source}: no constant names the bundle's entry point; cannot compute the package deps")
    return sorted(found)


def stage_code(root: Path, cmd: str) -> list[Path]:
    """The code deps of a stage whose command is ``python -m <module> ...``."""
    match = _CMD.match(cmd)
    if not match:
        raise ValueError(f"dvc.yaml: command {cmd!r} is not `python -m <module>`; cannot compute its code deps")
    entry = module_file(root, match["module"])
    if entry is None:
        raise ValueError(f"dvc.yaml: command {cmd!r}: module {match['module']} is not a project module")
    extra = vendored(root) if match["module"] == "stages.package" else []
    return import_closure(root, entry, *(root / p for p in extra))


def is_code(dep: str) -> bool:
    """A dep that is a project source file (generated), not data."""
    return dep.endswith(".py") and dep.split("/")[0] in PACKAGES


def expected_deps(root: Path) -> dict[str, list[str]]:
    """Per stage of dvc.yaml: its data deps as written, then its code deps, computed."""
    return {
        name: [d for d in stage.get("deps", []) if not is_code(d)]
        + [p.as_posix() for p in stage_code(root, stage["cmd"])]
        for name, stage in dvcfiles.stages(root).items()
    }


def rewrite_deps(text: str, deps: dict[str, list[str]]) -> str:
    """``dvc.yaml`` text with each stage's ``deps:`` list replaced; every other line as it was."""
    lines, out, stage, i = text.splitlines(keepends=True), [], None, 0
    while i < len(lines):
        line = lines[i]
        if m := re.match(r"^  (?P<name>[\w-]+):\s*$", line):
            stage = m["name"]
        out.append(line)
        i += 1
        if (m := _DEPS.match(line)) and stage in deps:
            indent = m["indent"] + "  "
            while i < len(lines) and lines[i].startswith(f"{indent}- "):
                i += 1
            out += [f"{indent}- {dep}\n" for dep in deps[stage]]
    return "".join(out)


def diff(root: Path) -> list[str]:
    """One line per stage whose code deps in dvc.yaml are not its import closure."""
    stages = dvcfiles.stages(root)
    problems = []
    for name, want in expected_deps(root).items():
        have = set(stages[name].get("deps", []))
        missing = [d for d in want if d not in have]
        stale = sorted(d for d in have if is_code(d) and d not in want)
        if missing:
            problems.append(f"dvc.yaml: stage {name} imports {', '.join(missing)} but does not list them in its deps")
        if stale:
            problems.append(f"dvc.yaml: stage {name} lists {', '.join(stale)} in its deps but does not import them")
    return problems


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actionrec.lineage.codedeps", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale code deps (exit 1 if any)")
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root (default: .)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    problems = diff(args.root)
    if args.check:
        for line in problems:
            print(f"{line} (remedy: python -m actionrec.lineage.codedeps)", file=sys.stderr)
        return 1 if problems else 0
    path = args.root / "dvc.yaml"
    path.write_text(rewrite_deps(path.read_text(), expected_deps(args.root)))
    print(f"{path}: code deps of every stage rewritten ({len(problems)} stage(s) were stale)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
