"""tools/nbval_kernels.py: why nbval's kernels died, and that they no longer take a run down.

The cause, reproduced: a kernel whose port is taken before it binds it dies, and jupyter_client
says `Kernel died before replying to kernel_info`, the message CI once printed for every cell of a
notebook. The cure: kernels over IPC (no ports), and a start that fails is retried; planted with
a kernel spec whose first starts exit at once, a notebook still runs, and a kernel that never
starts ends the run with a message about the kernel start, not about the notebook's outputs.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager

from conftest import ROOT, flaky_notebook

sys.path.insert(0, str(ROOT))
from tools import nbval_kernels  # noqa: E402


def run_nbval(notebook: Path, fails: int, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "JUPYTER_PATH": str(notebook.parent / "jupyter"),
        "FLAKY_FAILS": str(fails),
        "NBVAL_KERNEL_ATTEMPTS": "3",
    }
    command = [sys.executable, "-m", "pytest", "--nbval", str(notebook), "-p", "no:cacheprovider"]
    command += ["-p", "tools.nbval_kernels", f"--rootdir={notebook.parent}", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_kernel_whose_tcp_port_is_taken_dies_before_kernel_info():
    """The failure CI saw, on purpose: the shell port is held by someone else when the kernel
    binds it (as when two workers' kernels and clients draw the same port)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    # jupyter_client's own port cache would choose the ports itself: off, so that ours is used
    manager = KernelManager(kernel_name="python3", transport="tcp", cache_ports=False)
    manager.shell_port = holder.getsockname()[1]
    manager.start_kernel(stderr=subprocess.DEVNULL)
    client = manager.client()
    client.start_channels()
    try:
        with pytest.raises(RuntimeError, match="Kernel died before replying to kernel_info"):
            client.wait_for_ready(timeout=60)
    finally:
        nbval_kernels.discard(manager, client)
        holder.close()


def test_kernels_start_over_ipc_in_a_folder_of_their_own():
    kernel = nbval_kernels.ReliableKernel("python3")
    folder = Path(kernel.km.socket_folder)
    try:
        assert kernel.km.transport == "ipc"
        assert kernel.km.connection_file.startswith(str(folder))
        assert len(f"{kernel.km.ip}-5") < 100  # a Unix socket's path has 108 bytes at most
        reply = kernel.kc.execute_interactive("x = 6 * 7", timeout=30)
        assert reply["content"]["status"] == "ok"
    finally:
        kernel.stop()
    assert not folder.exists()


def test_a_kernel_that_fails_to_start_once_is_started_again_and_the_notebook_passes(tmp_path):
    notebook = flaky_notebook(tmp_path)
    result = run_nbval(notebook, 1, "-W", "default")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "KernelRetryWarning" in result.stdout and "did not start" in result.stdout
    assert "starting it again (attempt 2 of 3)" in result.stdout
    assert (tmp_path / "jupyter" / "kernels" / "flaky" / "starts").read_text() == "2"


def test_a_kernel_that_never_starts_is_named_as_such(tmp_path):
    notebook = flaky_notebook(tmp_path)
    outcomes = tmp_path / "outcomes.json"
    result = run_nbval(notebook, 99, f"--outcomes-json={outcomes}")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert "KernelStartError: could not start the Jupyter kernel 'flaky'" in result.stdout
    assert "3 attempts failed" in result.stdout and "No cell ran" in result.stdout
    assert (tmp_path / "jupyter" / "kernels" / "flaky" / "starts").read_text() == "3"
    ended = json.loads(outcomes.read_text())
    assert [e["outcome"] for e in ended.values()] == ["could not run"], ended
    assert "could not start the Jupyter kernel" in next(iter(ended.values()))["message"]


def test_outcomes_tell_a_changed_output_from_a_raising_cell(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    stored = nbformat.v4.new_output("stream", name="stdout", text="(4, 16, 1024)\n")
    sources = [
        "print((4, 17, 1024))",
        "assert 0.9 < 0.5, 'out of its band'",
        "print((4, 16, 1024))",
    ]
    notebook.cells = [
        nbformat.v4.new_code_cell(source, outputs=[stored] if "print" in source else [])
        for source in sources
    ]
    for number, cell in enumerate(notebook.cells, start=1):
        cell.execution_count = number
    nbformat.write(notebook, tmp_path / "planted.ipynb")
    outcomes = tmp_path / "outcomes.json"
    command = [sys.executable, "-m", "pytest", "--nbval", str(tmp_path / "planted.ipynb")]
    command += ["-p", "no:cacheprovider", "-p", "tools.nbval_kernels", f"--rootdir={tmp_path}"]
    command += [f"--outcomes-json={outcomes}"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    ended = [e["outcome"] for e in json.loads(outcomes.read_text()).values()]
    assert ended == ["output differs", "cell raised", "passed"]


@pytest.mark.parametrize("value", ["0", "three", "-1", ""])
def test_a_bad_number_of_attempts_is_one_clear_error(value):
    with pytest.raises(pytest.UsageError, match=f"not {value!r}"):
        nbval_kernels.attempts_from({"NBVAL_KERNEL_ATTEMPTS": value})
    assert nbval_kernels.attempts_from({}) == 3
    assert nbval_kernels.attempts_from({"NBVAL_KERNEL_ATTEMPTS": "5"}) == 5


def test_a_bad_number_of_attempts_stops_pytest_with_one_line(tmp_path):
    env = {**os.environ, "NBVAL_KERNEL_ATTEMPTS": "three"}
    command = [sys.executable, "-m", "pytest", "-p", "tools.nbval_kernels", "--co", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "ERROR: NBVAL_KERNEL_ATTEMPTS must be a whole number of at least 1, not 'three'" in (
        result.stderr
    )
    assert "Traceback" not in result.stdout + result.stderr
