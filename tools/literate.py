"""The literate pipeline: chapters (the source) -> vit_lib (exported code) and book/ (executed twins).

Sub-commands (``python tools/literate.py --help``):

``export``         write ``vit_lib/`` from the export-marked cells of ``chapters/*.md``
``check-export``   fail, with a diff, when ``vit_lib/`` differs from what the chapters export
``execute``        run each chapter and store the executed notebook as its twin ``book/<name>.ipynb``
``check-twins``    fail, with a diff, when a twin's cells differ from its chapter or were never run

The export marker is the first line of a code cell::

    #| export: vit_lib.patch_embed

It is an ordinary comment, so a reader of the book sees it, and it names the module the cell
goes to.  Cells without it are demos and stay in the chapter.

Why a small exporter of our own rather than nbdev: nbdev expects its own project layout
(``settings.ini``, ``nbs/``, its docs toolchain built on Quarto), reads ``.ipynb`` rather than our
MyST text notebooks, and generates ``_modidx.py`` and other files we would then have to keep in
sync too.  What we need is small: read MyST notebooks with jupytext, pick marked cells in order,
write one module per marker with a provenance header, and compare.  About two hundred lines
that a reader can audit beat a framework that owns the repository.

Why not ``jupytext --sync`` for the twins: it keeps whichever file is newer and can silently
overwrite an edit.  The twins are only ever written by ``execute`` (from the chapter) and only
ever compared by ``check-twins``.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "vit_lib"
MARKER = re.compile(r"^#\|\s*export\b(?P<rest>.*)$")
MARKER_TARGET = re.compile(r"^:\s*vit_lib\.(?P<module>[a-z_][a-z0-9_]*)\s*$")
FIX_EXPORT = "make export"
FIX_TWINS = "make execute"
# Cell metadata that affects what the book shows or what nbval checks; it must match too.
COMPARED_METADATA = ("tags",)
# nbval's tag for a cell whose output depends on the machine: run, asserted, not compared (README).
MACHINE_DEPENDENT = "nbval-ignore-output"
ASSERT = re.compile(r"^\s*assert\b", re.MULTILINE)


class LiterateError(Exception):
    """A problem in a chapter that the author must fix (bad marker, unknown module, ...)."""


@dataclass
class Module:
    name: str
    chapters: list[str] = field(default_factory=list)
    cells: list[tuple[str, int, str]] = field(default_factory=list)  # (chapter, cell number, code)


def chapter_paths(root: Path) -> list[Path]:
    return sorted((root / "chapters").glob("*.md"))


def read_chapter(path: Path):
    import jupytext

    return jupytext.read(path, fmt="md:myst")


def export_marker(source: str, where: str) -> str | None:
    """The module a cell exports to, or None for an ordinary cell."""
    first = source.split("\n", 1)[0].rstrip()
    match = MARKER.match(first)
    if match is None:
        if any(MARKER.match(line.strip()) for line in source.splitlines()[1:]):
            raise LiterateError(f"{where}: the export marker must be the first line of the cell")
        return None
    target = MARKER_TARGET.match(match["rest"])
    if target is None:
        raise LiterateError(
            f"{where}: malformed export marker {first!r}; write '#| export: vit_lib.<module>'"
        )
    return target["module"]


def collect(root: Path) -> dict[str, Module]:
    """The modules the chapters export, in chapter order, cells in reading order."""
    modules: dict[str, Module] = {}
    for path in chapter_paths(root):
        chapter = path.relative_to(root).as_posix()
        for number, cell in enumerate(read_chapter(path).cells, start=1):
            if cell.cell_type != "code":
                continue
            name = export_marker(cell.source, f"{chapter}, cell {number}")
            if name is None:
                continue
            if name == "__init__":
                raise LiterateError(f"{chapter}, cell {number}: vit_lib/__init__.py is generated")
            module = modules.setdefault(name, Module(name))
            if chapter not in module.chapters:
                module.chapters.append(chapter)
            body = cell.source.split("\n", 1)[1] if "\n" in cell.source else ""
            module.cells.append((chapter, number, body.strip("\n")))
    return modules


def public_names(code: str, module: str) -> list[str]:
    """Top-level classes, functions and constants a user imports from the package."""
    names = []
    for node in ast.parse(code, filename=f"{PACKAGE}/{module}.py").body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name) and t.id.isupper()]
    return [n for n in names if not n.startswith("_")]


def render_module(module: Module) -> str:
    sources = ", ".join(module.chapters)
    header = (
        f"# Generated from {sources} by tools/literate.py.\n"
        "# Edit the chapter, not this file: `make export` rewrites it and CI rejects hand edits.\n"
    )
    cells = [f"# --- {chapter}, cell {number} ---\n{code}\n" for chapter, number, code in module.cells]
    return header + "\n" + "\n\n".join(cells)


MAIN_GUARD = 'if __name__ == "__main__"'
LAZY_IMPORTS = '''
# Names of command-line modules, imported on first use (PEP 562).
_LAZY = {
ENTRIES
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))'''


def render_init(modules: dict[str, Module], rendered: dict[str, str]) -> str:
    lines = [
        "# Generated by tools/literate.py from the export-marked cells of chapters/*.md.",
        "# Edit the chapters, not this file.",
        '"""vit_lib: the Vision Transformer of the course "ViT, Shape by Shape".',
        "",
        "Every module here is generated from a chapter of the course; its header names the chapter.",
        '"""',
        "",
    ]
    exported: list[str] = []
    lazy: dict[str, str] = {}
    for name in modules:
        names = public_names(rendered[name], name)
        if not names:
            continue
        exported += names
        if MAIN_GUARD in rendered[name]:
            # A command-line module (`python -m vit_lib.train`) is imported on first use, not here:
            # importing it with the package would make runpy warn that it is already in sys.modules.
            lazy.update(dict.fromkeys(names, name))
        else:
            lines.append(f"from .{name} import {', '.join(names)}")
    if lazy:
        entries = "".join(f'    "{n}": "{m}",\n' for n, m in lazy.items())
        lines.append(LAZY_IMPORTS.replace("ENTRIES\n", entries))
    lines += ["", "__all__ = ["] + [f'    "{n}",' for n in exported] + ["]", ""]
    return "\n".join(lines)


def expected_files(root: Path) -> dict[str, str]:
    modules = collect(root)
    rendered = {name: render_module(m) for name, m in modules.items()}
    files = {f"{PACKAGE}/{name}.py": text for name, text in rendered.items()}
    files[f"{PACKAGE}/__init__.py"] = render_init(modules, rendered)
    return files


def existing_files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted((root / PACKAGE).glob("*.py"))
    }


def cmd_export(root: Path) -> int:
    want = expected_files(root)
    for rel in existing_files(root):
        if rel not in want:
            (root / rel).unlink()
            print(f"removed {rel} (no chapter exports it)")
    (root / PACKAGE).mkdir(exist_ok=True)
    for rel, text in want.items():
        path = root / rel
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {rel}")
    return 0


def cmd_check_export(root: Path) -> int:
    want, have = expected_files(root), existing_files(root)
    problems = []
    for rel in sorted(set(want) | set(have)):
        if want.get(rel) == have.get(rel):
            continue
        diff = difflib.unified_diff(
            want.get(rel, "").splitlines(keepends=True),
            have.get(rel, "").splitlines(keepends=True),
            fromfile=f"{rel} (exported from the chapters)",
            tofile=f"{rel} (in the tree)",
        )
        problems.append("".join(diff) or f"{rel}: differs\n")
    if not problems:
        print(f"check-export: {PACKAGE}/ matches the chapters ({len(want)} files)")
        return 0
    sys.stdout.write("".join(problems))
    print(
        f"\ncheck-export FAILED: {PACKAGE}/ is not what the chapters export.\n"
        f"Move any hand edit into its chapter, then run `{FIX_EXPORT}`."
    )
    return 1


# ---------------------------------------------------------------------------- twins


def twin_path(root: Path, chapter: Path) -> Path:
    return root / "book" / f"{chapter.stem}.ipynb"


def cell_signature(cell) -> tuple:
    meta = tuple((k, repr(cell.metadata.get(k))) for k in COMPARED_METADATA)
    return (cell.cell_type, cell.source.strip("\n"), meta)


def render_cells(cells) -> list[str]:
    lines = []
    for number, cell in enumerate(cells, start=1):
        tags = cell.metadata.get("tags")
        lines.append(f"--- cell {number} ({cell.cell_type}{', tags ' + str(tags) if tags else ''})\n")
        lines += [line + "\n" for line in cell.source.strip("\n").split("\n")]
    return lines


def cmd_check_twins(root: Path) -> int:
    import nbformat

    problems = []
    chapters = chapter_paths(root)
    stems = {c.stem for c in chapters}
    for orphan in sorted((root / "book").glob("*.ipynb")):
        if orphan.stem not in stems:
            problems.append(f"{orphan.relative_to(root)}: a twin without a chapter; delete it\n")
    for chapter in chapters:
        twin = twin_path(root, chapter)
        rel_c, rel_t = chapter.relative_to(root), twin.relative_to(root)
        if not twin.exists():
            problems.append(f"{rel_t}: missing; chapter {rel_c} has no executed twin\n")
            continue
        source = read_chapter(chapter).cells
        unasserted = [i for i, c in enumerate(source, 1) if MACHINE_DEPENDENT in c.metadata.get("tags", [])
                      and not ASSERT.search(c.source)]
        if unasserted:
            problems.append(f"{rel_c}: cells {unasserted} are tagged {MACHINE_DEPENDENT} but assert nothing; "
                            "a machine-dependent cell must assert the band its prose claims (README)\n")
        stored = nbformat.read(twin, as_version=4).cells
        if [cell_signature(c) for c in source] != [cell_signature(c) for c in stored]:
            diff = difflib.unified_diff(
                render_cells(source), render_cells(stored),
                fromfile=f"{rel_c} (the source)", tofile=f"{rel_t} (the stored twin)",
            )
            problems.append("".join(diff))
            continue
        unrun = [i for i, c in enumerate(stored, 1) if c.cell_type == "code" and c.execution_count is None]
        if unrun:
            problems.append(f"{rel_t}: code cells {unrun} were never executed\n")
    if not problems:
        print(f"check-twins: {len(chapters)} twins match their chapters and are executed")
        return 0
    sys.stdout.write("".join(problems))
    print(
        f"\ncheck-twins FAILED: a stored twin in book/ is not its chapter, executed.\n"
        f"Run `{FIX_TWINS}` (it re-runs the chapters and rewrites the twins)."
    )
    return 1


def normalise(notebook, stem: str) -> None:
    """Make a re-run write the same file: stable cell ids, and each cell's consecutive stream
    outputs merged (how a kernel chunks its prints depends on timing, not on the code)."""
    for number, cell in enumerate(notebook.cells, start=1):
        cell.id = f"{stem[:50]}-{number}"
        if cell.cell_type != "code":
            continue
        merged = []
        for output in cell.outputs:
            previous = merged[-1] if merged else None
            if (output.output_type == "stream" and previous is not None
                    and previous.output_type == "stream" and previous.name == output.name):
                previous.text += output.text
            else:
                merged.append(output)
        cell.outputs = merged


def cmd_execute(root: Path, only: list[str], timeout: int) -> int:
    import nbformat
    from nbclient import NotebookClient

    chapters = chapter_paths(root)
    if only:
        chapters = [c for c in chapters if any(key in c.stem for key in only)]
        if not chapters:
            raise LiterateError(f"no chapter matches {only}")
    for chapter in chapters:
        notebook = read_chapter(chapter)
        notebook.metadata["kernelspec"] = {
            "name": "python3", "display_name": "Python 3", "language": "python",
        }
        notebook.metadata.pop("jupytext", None)
        twin = twin_path(root, chapter)
        print(f"executing {chapter.relative_to(root)} -> {twin.relative_to(root)}", flush=True)
        twin.parent.mkdir(exist_ok=True)
        client = NotebookClient(
            notebook, timeout=timeout, kernel_name="python3", record_timing=False,
            resources={"metadata": {"path": str(twin.parent)}},
        )
        client.execute()
        normalise(notebook, chapter.stem)
        twin.parent.mkdir(exist_ok=True)
        nbformat.write(notebook, twin)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["export", "check-export", "execute", "check-twins"])
    parser.add_argument("chapters", nargs="*", help="execute: only chapters whose name contains one of these")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    parser.add_argument("--timeout", type=int, default=900, help="execute: seconds per cell")
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            return cmd_export(args.root)
        if args.command == "check-export":
            return cmd_check_export(args.root)
        if args.command == "check-twins":
            return cmd_check_twins(args.root)
        return cmd_execute(args.root, args.chapters, args.timeout)
    except LiterateError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
