"""The literate pipeline: chapters (the source) -> vit_lib (exported code) and book/ (executed twins).

Sub-commands (``python tools/literate.py --help``):

``export``         write ``vit_lib/`` from the export-marked cells of ``chapters/*.md``
``check-export``   fail, with a diff, when ``vit_lib/`` differs from what the chapters export
``execute``        run each chapter and store the executed notebook as its twin ``book/<name>.ipynb``
``check-twins``    fail, with a diff, when a twin's cells differ from its chapter or were never run

The export marker is the first line of a code cell::

    #| export: vit_lib.patch_embed

It is an ordinary comment, so a reader of the book sees it, and it names the module the cell
goes to (a dotted name, ``vit_lib.course.exercises``, puts it in a sub-package).  Cells without
it are demos and stay in the chapter.

Each module says what it offers in an ``__all__`` list, written in one of its cells.  The
generated ``__init__.py`` of its package imports exactly those names, so ``import vit_lib``
gives the curated API and nothing else; a module without ``__all__`` is an export error.

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
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "vit_lib"
MARKER = re.compile(r"^#\|\s*export\b(?P<rest>.*)$")
IDENTIFIER = r"[a-z_][a-z0-9_]*"
MARKER_TARGET = re.compile(rf"^:\s*{PACKAGE}\.(?P<module>{IDENTIFIER}(?:\.{IDENTIFIER})*)\s*$")
FIX_EXPORT = "make export"
FIX_TWINS = "make execute"
# Cell metadata that affects what the book shows or what nbval checks; it must match too.
COMPARED_METADATA = ("tags", "mystnb")  # nbval's tags; the book's image options (alt text)
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
            f"{where}: malformed export marker {first!r}; write '#| export: {PACKAGE}.<module>'"
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
            if name.split(".")[-1] == "__init__":
                raise LiterateError(f"{chapter}, cell {number}: {module_path(name)} is generated")
            module = modules.setdefault(name, Module(name))
            if chapter not in module.chapters:
                module.chapters.append(chapter)
            body = cell.source.split("\n", 1)[1] if "\n" in cell.source else ""
            module.cells.append((chapter, number, body.strip("\n")))
    return modules


def module_path(name: str) -> str:
    """``course.exercises`` -> ``vit_lib/course/exercises.py``."""
    return f"{PACKAGE}/{name.replace('.', '/')}.py"


def package_of(name: str) -> str:
    """The sub-package a module is in, relative to PACKAGE: "" for vit_lib itself."""
    return name.rpartition(".")[0]


def defined_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def public_names(code: str, module: str) -> list[str]:
    """The module's ``__all__``: the names its package re-exports, in the order written."""
    where = module_path(module)
    tree = ast.parse(code, filename=where)
    declared = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
    ]
    if len(declared) != 1:
        raise LiterateError(
            f"{where}: {'no' if not declared else len(declared)} `__all__ = [...]` assignments; "
            "a module names the names its package offers in exactly one `__all__` list (it may be "
            "empty)"
        )
    value = declared[0].value
    if not (
        isinstance(value, (ast.List, ast.Tuple))
        and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts)
    ):
        raise LiterateError(f"{where}: `__all__` must be a literal list of strings")
    names = [e.value for e in value.elts]
    undefined = [n for n in names if n not in defined_names(tree)]
    if undefined:
        raise LiterateError(f"{where}: `__all__` names {undefined}, which the module does not define")
    return names


def render_module(module: Module) -> str:
    sources = ", ".join(module.chapters)
    header = (
        f"# Generated from {sources} by tools/literate.py.\n"
        "# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by\n"
        "# `make test` and CI) fails on any difference between this file and what the chapter "
        "exports.\n"
    )
    cells = [f"# --- {chapter}, cell {number} ---\n{code}\n" for chapter, number, code in module.cells]
    return header + "\n" + "\n\n".join(cells)


MAIN_GUARD = 'if __name__ == "__main__"'
LAZY_IMPORTS = """
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
    return sorted(set(globals()) | set(_LAZY))"""

PACKAGE_DOCS = {
    "": f'''"""{PACKAGE}: the Vision Transformer of the course "ViT, Shape by Shape".

The names below are the library's API: the model and its pieces, its configuration, the shape
map, timm conversion, data, training, the shipped trained model and attention maps.  Every module
is generated from a chapter of the course; its header names the chapter.  What belongs to the
course alone (the exercises' checkers) lives in `{PACKAGE}.course`.
"""''',
    "course": '''"""What the course needs and a library user does not: the checkers of its exercises."""''',
}


def import_line(module: str, names: list[str], width: int = 100) -> str:
    line = f"from .{module} import {', '.join(names)}"
    if len(line) <= width:
        return line
    wrapped = textwrap.fill(", ".join(names) + ",", width - 4, break_on_hyphens=False)
    return f"from .{module} import (\n{textwrap.indent(wrapped, '    ')}\n)"


def render_init(package: str, modules: dict[str, Module], rendered: dict[str, str]) -> str:
    """The ``__init__.py`` of one package: its modules' ``__all__`` names, imported."""
    dotted = f"{PACKAGE}.{package}" if package else PACKAGE
    lines = [
        "# Generated by tools/literate.py from the `__all__` lists of the export-marked cells of",
        "# chapters/*.md.  Edit the chapters, not this file: `make check` fails on any difference.",
    ]
    if package not in PACKAGE_DOCS:
        raise LiterateError(
            f"{dotted}: a new sub-package; give it a docstring in PACKAGE_DOCS (tools/literate.py)"
        )
    lines += [PACKAGE_DOCS[package], ""]
    exported: list[str] = []
    lazy: dict[str, str] = {}
    for name in modules:
        if package_of(name) != package:
            continue
        names = public_names(rendered[name], name)
        short = name.rpartition(".")[2]
        clash = sorted(set(names) & set(exported))
        if clash:
            raise LiterateError(
                f"{module_path(name)}: `__all__` repeats {clash}, already offered by {dotted}"
            )
        exported += names
        if not names:
            continue
        if MAIN_GUARD in rendered[name]:
            # A command-line module (`python -m vit_lib.train`) is imported on first use, not here:
            # importing it with the package would make runpy warn that it is already in sys.modules.
            lazy.update(dict.fromkeys(names, short))
        else:
            lines.append(import_line(short, names))
    if lazy:
        entries = "".join(f'    "{n}": "{m}",\n' for n, m in lazy.items())
        lines.append(LAZY_IMPORTS.replace("ENTRIES\n", entries))
    lines += ["", "__all__ = ["] + [f'    "{n}",' for n in exported] + ["]", ""]
    return "\n".join(lines)


def expected_files(root: Path) -> dict[str, str]:
    modules = collect(root)
    rendered = {name: render_module(m) for name, m in modules.items()}
    files = {module_path(name): text for name, text in rendered.items()}
    for package in dict.fromkeys(["", *map(package_of, modules)]):
        files[module_path(f"{package}.__init__" if package else "__init__")] = render_init(
            package, modules, rendered
        )
    return files


def existing_files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted((root / PACKAGE).rglob("*.py"))}


def cmd_export(root: Path) -> int:
    want = expected_files(root)
    for rel in existing_files(root):
        if rel not in want:
            (root / rel).unlink()
            print(f"removed {rel} (no chapter exports it)")
    for rel, text in want.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
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
        unasserted = [
            i
            for i, c in enumerate(source, 1)
            if MACHINE_DEPENDENT in c.metadata.get("tags", []) and not ASSERT.search(c.source)
        ]
        if unasserted:
            problems.append(
                f"{rel_c}: cells {unasserted} are tagged {MACHINE_DEPENDENT} but assert nothing; "
                "a machine-dependent cell must assert the band its prose claims (README)\n"
            )
        stored = nbformat.read(twin, as_version=4).cells
        if [cell_signature(c) for c in source] != [cell_signature(c) for c in stored]:
            diff = difflib.unified_diff(
                render_cells(source),
                render_cells(stored),
                fromfile=f"{rel_c} (the source)",
                tofile=f"{rel_t} (the stored twin)",
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
            if (
                output.output_type == "stream"
                and previous is not None
                and previous.output_type == "stream"
                and previous.name == output.name
            ):
                previous.text += output.text
            else:
                merged.append(output)
        cell.outputs = merged


def drop_prelude(notebook) -> None:
    """Remove the prelude cell that `cmd_execute` ran first, and count executions without it."""
    prelude = notebook.cells.pop(0)
    if prelude.outputs:
        raise LiterateError(f"the figure-text prelude printed something: {prelude.outputs}")
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.execution_count is not None:
            cell.execution_count -= 1
            for output in cell.outputs:
                if "execution_count" in output and output.execution_count is not None:
                    output.execution_count -= 1


def cmd_execute(root: Path, only: list[str], timeout: int) -> int:
    import figure_text
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
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        notebook.metadata.pop("jupytext", None)
        twin = twin_path(root, chapter)
        print(f"executing {chapter.relative_to(root)} -> {twin.relative_to(root)}", flush=True)
        twin.parent.mkdir(exist_ok=True)
        # First a cell of our own (tools/figure_text.py): each figure's PNG records how small its
        # text is, for the site tests. It is dropped again below; the twin equals the chapter.
        notebook.cells.insert(0, nbformat.v4.new_code_cell(figure_text.PRELUDE))
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            record_timing=False,
            resources={"metadata": {"path": str(twin.parent)}},
        )
        client.execute()
        drop_prelude(notebook)
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
