"""What `import vit_lib` offers: a curated list, every name of which resolves, and nothing else."""

import ast
import json
import subprocess
import sys
import types
from pathlib import Path

import vit_lib
import vit_lib.course

ROOT = Path(__file__).resolve().parent.parent


def public(module: types.ModuleType) -> set[str]:
    """The names a user sees in dir(module): not private, not a sub-module."""
    return {
        name
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
    }


def test_every_name_in_all_resolves_in_a_fresh_process():
    probe = (
        "import json, vit_lib, vit_lib.course\n"
        "bad = [n for n in vit_lib.__all__ if not hasattr(vit_lib, n)]\n"
        "bad += ['course.' + n for n in vit_lib.course.__all__ if not hasattr(vit_lib.course, n)]\n"
        "print(json.dumps(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


def test_the_package_offers_exactly_its_curated_names():
    assert len(vit_lib.__all__) == len(set(vit_lib.__all__))
    assert public(vit_lib) == set(vit_lib.__all__)
    assert public(vit_lib.course) == set(vit_lib.course.__all__)


def test_course_helpers_and_internals_stay_out_of_the_top_level():
    for name in (
        "check_patchify",
        "CheckResult",
        "record",
        "scope",
        "recording",
        "IDX_DTYPES",
        "main",
    ):
        assert name not in vit_lib.__all__ and not hasattr(vit_lib, name), name
    assert "check_patchify" in vit_lib.course.__all__


def test_names_the_readme_promises_resolve():
    """The annotated assignment RECIPES once fell through the exporter; lazy names resolve too."""
    assert vit_lib.RECIPES["digits"] and vit_lib.Trainer.__module__ == "vit_lib.train"
    assert vit_lib.Stage.HEAD.number == 16


def test_the_readme_lists_every_name_of_the_api():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in vit_lib.__all__ if f"`{name}`" not in readme]
    assert missing == [], f"README, 'What import vit_lib offers', lacks {missing}"


def test_no_module_shadows_the_standard_library():
    modules = [p.stem for p in (ROOT / "vit_lib").rglob("*.py") if p.stem != "__init__"]
    assert set(modules) & set(sys.stdlib_module_names) == set()


def package_imports(package: Path) -> dict[str, set[str]]:
    """{module: the modules of the same package it imports}, from every import statement in its
    source, at any depth: an import inside a function closes a cycle as surely as one at the top."""
    name = package.name
    graph = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(parts[: len(parts) - node.level])  # `from .x` is relative
                source = ".".join(filter(None, [base if node.level else "", node.module]))
                found |= {source} | {f"{source}.{alias.name}" for alias in node.names}
        graph[module] = found
    return {
        m: {i for i in found if i in graph and i != m and i != name} for m, found in graph.items()
    }


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle of `graph`, each as the path that closes it (depth-first search)."""
    cycles, state = [], {}  # state: 1 while on the current path, 2 when done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [node, target])
            elif target not in state:
                visit(target, path + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return cycles


def test_no_module_of_vit_lib_imports_one_that_imports_it():
    graph = package_imports(ROOT / "vit_lib")
    assert "vit_lib.family" in graph["vit_lib"] and "vit_lib.model" in graph["vit_lib.family"]
    assert import_cycles(graph) == []


def test_the_cycle_check_finds_a_cycle_made_by_a_lazy_import(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from .a import f\n")
    (package / "a.py").write_text("from pkg.b import g\n\ndef f():\n    return g()\n")
    (package / "b.py").write_text("def g():\n    from pkg import a\n    return a\n")
    (package / "c.py").write_text("import pkg.b\n")
    assert import_cycles(package_imports(package)) == [["pkg.a", "pkg.b", "pkg.a"]]
    (package / "b.py").write_text("def g():\n    return 1\n")
    assert package_imports(package)["pkg"] == {"pkg.a"} and not import_cycles(
        package_imports(package)
    )
