"""Every package a documented command imports is declared in that command's extra (pyproject.toml).

`pip install vit-lib` gets the dependencies; `pip install "vit-lib[train]"` adds what
`python -m vit_lib.train` needs, `[timm]` what the timm conversion needs. Each test runs one
command of the README in a fresh process, lists the distributions of the modules it imported, and
fails naming any that the extra (with everything it pulls in, read from the installed packages'
metadata) does not account for.
"""

import functools
import importlib.metadata as metadata
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SELF = canonicalize_name(PROJECT["name"])

# Run before every probe: record every package that vit_lib or the command itself imports (whether
# or
# not something imported it before), and print them at exit. What torch, timm and the others import
# on their own (some only if present, like torch.hub's tqdm) is their business and their metadata's.
REPORT = """\
import atexit, builtins, json, sys
_ours = {}
_import = builtins.__import__
def _recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = ((globals or {}).get("__name__") or "?").split(".")[0]
    if level == 0 and importer in ("vit_lib", "__main__"):
        _ours.setdefault(name.split(".")[0], importer)
    return _import(name, globals, locals, fromlist, level)
builtins.__import__ = _recording_import
atexit.register(lambda: print("IMPORTED " + json.dumps(_ours)))
"""

COMMANDS = {
    # name of the command in the README: (extras it needs, a short run of it in Python)
    "import vit_lib (README, 'Using the library')": (
        (),
        """
        import torch
        from vit_lib import ViTConfig, VisionTransformer, shape_trace
        config = ViTConfig(img_size=32, patch_size=8, in_chans=3, num_classes=1000, embed_dim=1024,
                           depth=2, num_heads=12, head_dim=64, mlp_ratio=2.0)
        model = VisionTransformer(config).eval()
        model(torch.randn(4, 3, 32, 32))
        shape_trace(model, torch.randn(4, 3, 32, 32))
        model.attention_maps(torch.randn(4, 3, 32, 32))
        from vit_lib import load_pretrained
        load_pretrained("digits").logits(torch.rand(2, 1, 8, 8))
    """,
    ),
    "python -m vit_lib.train --data digits": (
        ("train",),
        """
        import runpy, sys, tempfile
        sys.argv = ["vit_lib.train", "--data", "digits", "--epochs", "1", "--train-subset", "64",
                    "--embed-dim", "32", "--depth", "1", "--num-heads", "2",
                    "--out", tempfile.mkdtemp()]
        runpy.run_module("vit_lib.train", run_name="__main__")   # with its progress bar
    """,
    ),
    "from_timm / to_timm": (
        ("timm",),
        """
        import torch
        from timm.models.vision_transformer import VisionTransformer as TimmViT
        from vit_lib import from_timm, to_timm
        theirs = TimmViT(img_size=32, patch_size=8, embed_dim=64, depth=1, num_heads=2,
                         num_classes=10)
        ours = from_timm(theirs)
        to_timm(ours)
    """,
    ),
}


def requirement_closure(requirements: list[str], extras_of_self: dict[str, list[str]]) -> set[str]:
    """Canonical names of the distributions `requirements` install, following installed metadata."""
    found: set[str] = set()
    todo = [(Requirement(r), ()) for r in requirements]
    while todo:
        requirement, _ = todo.pop()
        name = canonicalize_name(requirement.name)
        if name == SELF:  # "vit-lib[train,timm]" in the dev extra
            for extra in requirement.extras:
                todo += [(Requirement(r), ()) for r in extras_of_self[extra]]
            continue
        if name in found:
            continue
        found.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        environments = [{"extra": extra} for extra in ("", *requirement.extras)]
        for line in requires:
            child = Requirement(line)
            if child.marker is None or any(child.marker.evaluate(env) for env in environments):
                todo.append((child, ()))
    return found


def declared(extras: tuple[str, ...], without: tuple[str, ...] = ()) -> set[str]:
    """What `pip install "vit-lib[extras]"` brings in; `without` drops direct requirements (to "
    "test this test)."""
    optional = PROJECT.get("optional-dependencies", {})
    direct = list(PROJECT["dependencies"]) + [r for extra in extras for r in optional[extra]]
    direct = [r for r in direct if canonicalize_name(Requirement(r).name) not in without]
    return requirement_closure(direct, optional)


@functools.cache
def imported_distributions(code: str) -> frozenset[str]:
    """Canonical names of the distributions whose packages vit_lib or `code` itself imported."""
    result = subprocess.run(
        [sys.executable, "-c", REPORT + textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("IMPORTED "))
    ours = json.loads(line.removeprefix("IMPORTED "))  # {package: who imported it}
    assert "torch" in ours, "the probe saw no import at all"
    owners = metadata.packages_distributions()
    names = set()
    for module in ours:
        if module in sys.stdlib_module_names or module.startswith("_") or module == "vit_lib":
            continue
        assert module in owners, (
            f"module {module!r}, imported by {ours[module]}, belongs to no distribution"
        )
        names.update(canonicalize_name(owner) for owner in owners[module])
    return frozenset(names)


def undeclared(imported: set[str], allowed: set[str]) -> list[str]:
    return sorted(imported - allowed)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_documented_command_imports_only_what_its_extra_declares(command):
    extras, code = COMMANDS[command]
    missing = undeclared(imported_distributions(code), declared(extras))
    extra = f'"vit-lib[{",".join(extras)}]"' if extras else "vit-lib"
    assert not missing, f"{command} imports {missing}, which `pip install {extra}` does not install"


def test_the_check_names_a_package_left_out_of_the_extra():
    extras, code = COMMANDS["python -m vit_lib.train --data digits"]
    imported = imported_distributions(code)
    assert undeclared(imported, declared(extras, without=("tqdm",))) == ["tqdm"]
    assert "scikit-learn" in undeclared(imported, declared(()))  # the library alone lacks it
