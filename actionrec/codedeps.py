"""Which project source files a piece of code runs: DVC code deps and code digests.

:func:`import_closure` follows every ``import`` (module level and inside functions, absolute
and relative, each package's ``__init__.py`` included) from a file to the project modules it
reaches, transitively. It gives each stage of ``dvc.yaml`` its complete code ``deps``
(``python -m actionrec.codedeps`` rewrites them, ``--check`` only reports) and the extraction
cache its code digest (:func:`source_digest`), so no edit to code that shapes an output can
go unnoticed.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import re
import sys
from collections.abc import Iterable
from pathlib import Path

PACKAGES = ("actionrec", "stages")  # top-level packages whose modules are project code
_CMD = re.compile(r"^python -m (?P<module>[\w.]+)")
_DEPS = re.compile(r"^(?P<indent> +)deps:\s*$")


def _module_file(root: Path, dotted: str) -> Path | None:
    """``a.b`` -> ``a/b.py`` or ``a/b/__init__.py`` under ``root``, if it is a project module."""
    if dotted.split(".")[0] not in PACKAGES:
        return None
    base = root.joinpath(*dotted.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _with_packages(root: Path, dotted: str) -> list[Path]:
    """The module's file and the ``__init__.py`` of every package above it (they run first)."""
    parts = dotted.split(".")
    found = [_module_file(root, ".".join(parts[:i])) for i in range(1, len(parts) + 1)]
    return [p for p in found if p is not None]


def _dotted(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imported_modules(root: Path, path: Path) -> list[str]:
    """Dotted names of every module ``path`` imports (any depth in the file), resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _dotted(root, path if path.name == "__init__.py" else path.parent / "__init__.py")
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, node.module] if node.module else up)
            else:
                base = node.module or ""
            names.append(base)
            names += [f"{base}.{alias.name}" for alias in node.names]  # submodules: `from a import b`
    return names


def import_closure(root: Path, *entries: Path) -> list[Path]:
    """Project files that running ``entries`` imports, transitively, entries and the
    ``__init__.py`` of their packages included; sorted, relative to ``root``."""
    root = root.resolve()
    todo = [e.resolve() for e in entries]
    for entry in list(todo):
        todo += _with_packages(root, _dotted(root, entry))
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for dotted in imported_modules(root, path):
            todo += [p for p in _with_packages(root, dotted) if p not in seen]
    return sorted(p.relative_to(root) for p in seen)


def _normalised(path: Path) -> str:
    """The file's syntax tree without docstrings: edits to comments, layout or docs do not count."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def source_digest(root: Path, *entries: Path) -> str:
    """sha256 of the code (not the comments or docstrings) of the import closure of ``entries``."""
    digest = hashlib.sha256()
    for rel in import_closure(root, *entries):
        digest.update(f"{rel.as_posix()}\0{_normalised(root / rel)}\0".encode())
    return digest.hexdigest()


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
    """The modules the ``package`` stage may copy into the bundle: every ``"<path>.py"`` of an
    ``actionrec`` module in a module-level constant of stages/package.py."""
    source = root / "stages" / "package.py"
    tree = ast.parse(source.read_text(), filename=str(source))
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            found |= {Path("actionrec", s) for s in _strings(value) if s.endswith(".py") and (root / "actionrec" / s).is_file()}
    if not found:
        raise ValueError("stages/package.py: no constant lists the vendored actionrec modules; cannot compute its deps")
    return sorted(found)


def stage_code(root: Path, cmd: str) -> list[Path]:
    """The code deps of a stage whose command is ``python -m <module> ...``."""
    match = _CMD.match(cmd)
    if not match:
        raise ValueError(f"dvc.yaml: command {cmd!r} is not `python -m <module>`; cannot compute its code deps")
    entry = _module_file(root, match["module"])
    if entry is None:
        raise ValueError(f"dvc.yaml: command {cmd!r}: module {match['module']} is not a project module")
    extra = vendored(root) if match["module"] == "stages.package" else []
    return import_closure(root, entry, *(root / p for p in extra))


def is_code(dep: str) -> bool:
    """A dep that is a project source file (generated), not data."""
    return dep.endswith(".py") and dep.split("/")[0] in PACKAGES


def expected_deps(root: Path) -> dict[str, list[str]]:
    """Per stage of dvc.yaml: its data deps as written, then its code deps, computed."""
    import yaml

    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    return {
        name: [d for d in stage.get("deps", []) if not is_code(d)]
        + [p.as_posix() for p in stage_code(root, stage["cmd"])]
        for name, stage in stages.items()
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
    import yaml

    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
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
    parser = argparse.ArgumentParser(prog="python -m actionrec.codedeps", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale code deps (exit 1 if any)")
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root (default: .)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    problems = diff(args.root)
    if args.check:
        for line in problems:
            print(f"{line} (remedy: python -m actionrec.codedeps)", file=sys.stderr)
        return 1 if problems else 0
    path = args.root / "dvc.yaml"
    path.write_text(rewrite_deps(path.read_text(), expected_deps(args.root)))
    print(f"{path}: code deps of every stage rewritten ({len(problems)} stage(s) were stale)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
