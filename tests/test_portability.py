"""`make portability` bites: a training number compared exactly fails it; the same cell tagged
passes.

The planted notebook trains a tiny ViT for 30 steps and prints the loss to ten decimals. On this
machine it replays exactly (plain nbval passes), but under a simulated other CPU the last bits
differ, and tools/portability.py must say so. Tagged `nbval-ignore-output`, with an assert of a
band instead, the same cell must pass everywhere.
"""

import contextlib
import io
import os
import platform
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import flaky_notebook

ROOT = Path(__file__).resolve().parent.parent

SHAPES = """\
import torch
from vit_lib import ViTConfig, VisionTransformer
torch.set_num_threads(1)
x = torch.rand(64, 1, 8, 8)
print(tuple(x.shape))"""

TRAINING = """\
torch.manual_seed(0)
x, y = torch.rand(64, 1, 8, 8), torch.randint(0, 10, (64,))
model = VisionTransformer(ViTConfig(img_size=8, patch_size=2, in_chans=1, num_classes=10,
                                    embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
for _ in range(30):
    loss = torch.nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(f"loss after 30 steps: {loss.item():.10f}")
assert loss.item() < 2.2   # the band: it learned something (log 10 = 2.30 at the start)"""


def planted_twins(folder: Path) -> tuple[Path, Path]:
    """exact.ipynb and tagged.ipynb: the same two cells with the outputs they print on this machine,
    the training cell of the second tagged. The cells run here, in this process (the machine is the
    same as a kernel's, and it saves starting one); plain nbval then checks they replay exactly."""
    outputs, scope = [], {}
    for source in (SHAPES, TRAINING):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(source, scope)
        outputs.append([nbformat.v4.new_output("stream", name="stdout", text=printed.getvalue())])
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [
        nbformat.v4.new_code_cell(source, outputs=out, execution_count=number)
        for number, (source, out) in enumerate(zip((SHAPES, TRAINING), outputs), start=1)
    ]
    nbformat.write(notebook, folder / "exact.ipynb")
    notebook.cells[1].metadata["tags"] = ["nbval-ignore-output"]
    nbformat.write(notebook, folder / "tagged.ipynb")
    return folder / "exact.ipynb", folder / "tagged.ipynb"


def test_portability_fails_on_a_training_number_compared_exactly_and_passes_it_tagged(tmp_path):
    exact, tagged = planted_twins(tmp_path)
    native = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            str(exact),
            str(tagged),
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert native.returncode == 0, (
        "the planted twins must replay exactly on this machine\n" + native.stdout
    )

    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "portability.py"),
            str(exact),
            str(tagged),
            "--",
            f"--rootdir={tmp_path}",
            "-rf",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "portability FAILED:" in result.stdout
    assert result.stdout.count("output differs under") == 2, result.stdout
    assert "must assert a band" in result.stdout
    assert "could not run" not in result.stdout
    assert "loss after 30 steps" in result.stdout  # nbval's diff shows the cell's output
    failed = [
        Path(line.split()[1]).name
        for line in result.stdout.splitlines()
        if line.startswith("FAILED")
    ]
    assert failed == ["exact.ipynb::Cell", "exact.ipynb::Cell"], (
        failed
    )  # under each setting; tagged.ipynb passed
    assert result.stdout.count("1 failed, 3 passed") == 2


@pytest.mark.parametrize("setting", ["default", "avx2"])
def test_the_simulated_cpus_take_effect(setting):
    """The environment variables reach ATen; on x86-64, AVX2 can always be asked for."""
    if setting == "avx2" and platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("AVX2 kernels exist on x86-64 only")
    sys.path.insert(0, str(ROOT / "tools"))
    import portability as tool

    assert tool.capability({**os.environ, "ATEN_CPU_CAPABILITY": setting}) == setting.upper()


def test_portability_says_could_not_run_when_no_kernel_starts(tmp_path):
    """A notebook whose kernel never starts is an error, not a CPU difference: the summary says
    it could not run and does not ask for a band."""
    notebook = flaky_notebook(tmp_path)
    env = {**os.environ, "JUPYTER_PATH": str(tmp_path / "jupyter"), "FLAKY_FAILS": "99"}
    env["NBVAL_KERNEL_ATTEMPTS"] = "2"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "portability.py"), str(notebook)]
        + ["--", f"--rootdir={tmp_path}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    verdicts = result.stdout[result.stdout.index("portability FAILED:") :]
    assert verdicts.count("could not run under") == 2, verdicts
    assert "could not start the Jupyter kernel 'flaky'" in verdicts
    assert "output differs under" not in verdicts, verdicts  # the words of a CPU difference
    assert "must assert a band" not in verdicts and "depends on the CPU" not in verdicts, verdicts


def test_a_missing_notebook_is_one_error_line():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "portability.py"), "book/no_such.ipynb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"error: no such notebook: book/no_such.ipynb (paths are read from {ROOT})"
    ]
    assert result.stderr == ""
