"""What `import vit_lib` offers: a curated list, every name of which resolves, and nothing else."""

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
