"""A pytest plugin for nbval: kernels that start reliably, and a record of how each test ended.

Loaded with ``-p tools.nbval_kernels`` by ``make test`` and ``tools/portability.py`` (both run
``python -m pytest`` from the repository root, which puts the root on ``sys.path``).

**Why kernels failed to start.** nbval's kernels talk to pytest over ZeroMQ. Over TCP,
jupyter_client picks each of a kernel's five ports by binding port 0 and closing the socket; the
kernel binds those numbers a moment later, in another process. Two xdist workers start kernels at
the same time, and their clients open connections from ports of the same ephemeral range, so a
port can be taken in between. The kernel then fails to bind and exits, and nbval reports
``Kernel died before replying to kernel_info`` for every cell of that notebook, although nothing
was run. (tests/test_nbval_kernels.py reproduces it by holding a kernel's port.)

**What this plugin does about it.**

- It starts every nbval kernel over the IPC transport (Unix sockets named after the kernel's own
  connection file in a private folder): there are no port numbers to race for. On Windows, which
  has no IPC transport, kernels stay on TCP.
- A kernel that still dies or times out while starting is shut down and started again, up to
  ``NBVAL_KERNEL_ATTEMPTS`` times (default 3). Each retry is reported as a pytest warning that
  names the notebook and the error. When every attempt fails, the notebook's cells error with
  :class:`KernelStartError`, whose message says that no cell ran and no output was compared.
- ``--outcomes-json PATH`` writes how every test ended (see :func:`outcome_of`), so that a tool
  which runs pytest (``tools/portability.py``) can tell a changed output from a cell that raised
  and from a notebook that could not run at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
import warnings
from pathlib import Path

import pytest
from nbval import kernel as nbval_kernel
from nbval import plugin as nbval_plugin

DEFAULT_ATTEMPTS = 3
ATTEMPTS = DEFAULT_ATTEMPTS  # starts of a kernel before its notebook errors (set in pytest_configure)
TRANSPORT = "tcp" if os.name == "nt" else "ipc"
# A Unix socket's path must fit in 108 bytes: the sockets live in a short folder of their own.
SOCKET_ROOT = Path(os.environ.get("NBVAL_KERNEL_DIR", tempfile.gettempdir()))


class KernelStartError(RuntimeError):
    """No kernel could be started for a notebook: none of its cells ran."""


class KernelRetryWarning(pytest.PytestWarning):
    """A notebook's kernel failed to start and was started again."""


def start_kernel(kernel_name: str, cwd: str | None, startup_timeout: float):
    """One kernel over `TRANSPORT`, its manager and client, ready: nbval's start_new_kernel with a
    connection file (and so socket names) of its own. Raises RuntimeError when it does not start.
    """
    folder = tempfile.mkdtemp(prefix="nbk-", dir=SOCKET_ROOT)
    manager = nbval_kernel.KernelManager(
        kernel_name=kernel_name,
        kernel_spec_manager=nbval_kernel.NbvalKernelspecManager(),
        transport=TRANSPORT,
        connection_file=os.path.join(folder, f"{uuid.uuid4().hex[:12]}.json"),
    )
    client = None
    try:
        manager.start_kernel(stderr=subprocess.DEVNULL, cwd=cwd)
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=startup_timeout)
    except BaseException:
        discard(manager, client)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    manager.socket_folder = folder
    return manager, client


def discard(manager, client) -> None:
    """Stop a kernel that may be half started; never raises."""
    try:
        if client is not None:
            client.stop_channels()
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
        manager.cleanup_resources()
    except Exception:  # noqa: BLE001 - it is being thrown away
        pass


class ReliableKernel(nbval_kernel.RunningKernel):
    """nbval's RunningKernel, started over IPC and retried when the start fails."""

    def __init__(self, kernel_name: str, cwd: str | None = None, startup_timeout: float = 60):
        where = cwd or os.getcwd()
        failures: list[str] = []
        for attempt in range(1, ATTEMPTS + 1):
            self.km = self.kc = None
            try:
                self.km, self.kc = start_kernel(kernel_name, cwd, startup_timeout)
                self._ensure_iopub_up()
            except RuntimeError as err:
                if self.km is not None:
                    discard(self.km, self.kc)
                    shutil.rmtree(self.km.socket_folder, ignore_errors=True)
                failures.append(f"attempt {attempt}: {err}")
                if attempt < ATTEMPTS:
                    warnings.warn(
                        f"the Jupyter kernel {kernel_name!r} for a notebook in {where} did not "
                        f"start ({err}); starting it again (attempt {attempt + 1} of {ATTEMPTS})",
                        KernelRetryWarning,
                        stacklevel=2,
                    )
                continue
            return
        raise KernelStartError(
            f"could not start the Jupyter kernel {kernel_name!r} for a notebook in {where}: "
            f"{ATTEMPTS} attempts failed ({'; '.join(failures)}). No cell ran and no output was "
            "compared: this is about starting a kernel, not about the notebook's outputs."
        )

    def stop(self) -> None:
        folder = self.km.socket_folder
        super().stop()
        shutil.rmtree(folder, ignore_errors=True)


# nbval's notebook collector looks the class up in its own module when it sets up a notebook.
nbval_plugin.RunningKernel = ReliableKernel


# ---------------------------------------------------------------------------- how tests ended
def pytest_addoption(parser) -> None:
    parser.getgroup("nbval").addoption(
        "--outcomes-json",
        metavar="PATH",
        help="write how each test ended to PATH (tools/nbval_kernels.py: outcome_of)",
    )


def outcome_of(report) -> str | None:
    """What a test report says, in the words a summary needs, or None when it says nothing new.

    - ``passed``, ``skipped``;
    - ``output differs``: nbval ran the cell and its output is not the stored one;
    - ``cell raised``: the cell itself raised (an assert of a band, an import that failed);
    - ``could not run``: the test errored outside its own body (setup or teardown), e.g. no kernel
      could be started for its notebook.
    """
    if report.when != "call":
        if report.failed:
            return "could not run"
        return "skipped" if report.skipped else None
    if report.passed or report.skipped:
        return "skipped" if report.skipped else "passed"
    text = str(report.longrepr)
    if "Cell outputs differ" in text or "disagrees with newly computed" in text:
        return "output differs"
    if "Kernel dead" in text or "Kernel died" in text:
        return "could not run"
    return "cell raised"


def message_of(report) -> str:
    """The error a failed report ends with, on one line ('' when it passed)."""
    if not report.failed:
        return ""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr).strip()
    return " ".join(text.split())[:400]


class OutcomeRecorder:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.tests: dict[str, dict[str, str]] = {}

    def pytest_runtest_logreport(self, report) -> None:
        outcome = outcome_of(report)
        if outcome is None or self.tests.get(report.nodeid, {}).get("outcome") not in (
            None,
            "passed",
        ):
            return  # the first thing that went wrong with a test is what it is remembered by
        self.tests[report.nodeid] = {"outcome": outcome, "message": message_of(report)}

    def pytest_sessionfinish(self) -> None:
        self.path.write_text(json.dumps(self.tests, indent=1, ensure_ascii=False))


def attempts_from(environ) -> int:
    """NBVAL_KERNEL_ATTEMPTS as a number, or a UsageError that names the bad value."""
    value = environ.get("NBVAL_KERNEL_ATTEMPTS", str(DEFAULT_ATTEMPTS)).strip()
    if not value.isdigit() or int(value) < 1:
        raise pytest.UsageError(f"NBVAL_KERNEL_ATTEMPTS must be a whole number of at least 1, not {value!r}")
    return int(value)


def pytest_configure(config) -> None:
    global ATTEMPTS
    ATTEMPTS = attempts_from(os.environ)
    path = config.getoption("outcomes_json", None)
    # Under xdist the controller sees every worker's reports: only it writes the file.
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(OutcomeRecorder(path), "nbval-outcomes")
