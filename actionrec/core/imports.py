"""Which project source files a piece of code runs, and a digest of that code.

:func:`import_closure` follows every ``import`` (module level and inside functions, absolute
and relative, each package's ``__init__.py`` included) from a file to the project modules it
reaches, transitively. The DVC code deps of every stage come from it, the extraction cache key
holds :func:`source_digest` of the extractor's closure, and the layer contract test reads
:func:`imported_modules`.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGES = ("actionrec", "stages")  # top-level packages whose modules are project code


def module_file(root: Path, dotted: str) -> Path | None:
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
    found = [module_file(root, ".".join(parts[:i])) for i in range(1, len(parts) + 1)]
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
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            setattr(node, "body", body[1:] or [ast.Pass()])  # noqa: B010 (any node type with a body)
    return ast.dump(tree)


def source_digest(root: Path, *entries: Path) -> str:
    """sha256 of the code (not the comments or docstrings) of the import closure of ``entries``."""
    digest = hashlib.sha256()
    for rel in import_closure(root, *entries):
        digest.update(f"{rel.as_posix()}\0{_normalised(root / rel)}\0".encode())
    return digest.hexdigest()
