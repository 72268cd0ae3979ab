"""Re-run nbval on the executed twins as if on other CPUs (`make portability`).

The twins in ``book/`` were executed on one machine. Another CPU picks other kernels for the same
operations: ATen dispatches its vectorised code by CPU capability (no SIMD, AVX2, AVX-512), and
MKL picks its code path by CPU too. Their sums round differently in the last bits, and training
amplifies those bits into different accuracies. This script simulates such machines on this one
and runs nbval under each:

``ATEN_CPU_CAPABILITY=default``                       ATen without vector kernels
``ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE``      ATen's AVX2 kernels, MKL's most portable path

On a CPU without AVX-512 the native dispatch is AVX2, so the first setting is the one that
differs there; MKL's COMPATIBLE path differs from its native one on every x86 CPU. A twin passes
only when every output that nbval compares exactly is the same under each setting: numbers that
depend on the machine belong in cells tagged ``nbval-ignore-output`` that assert a band instead
(README, "What nbval compares").

Each setting's run ends one of three ways, and the summary keeps them apart:

- **output differs**: a cell's output is not the stored one under that setting; this, and only
  this, is the sign of an output that depends on the CPU;
- **cell raised**: a cell raised (a band's assert, say) under that setting;
- **could not run**: pytest could not run a notebook at all (no kernel could be started, a
  collection error): nothing about the CPU was learnt, so the message says so.

Every nbval kernel starts over IPC and is started again when it fails to start
(tools/nbval_kernels.py, loaded here with ``-p tools.nbval_kernels``).

Usage: ``python tools/portability.py [NOTEBOOK ...] [-- PYTEST-ARGS ...]`` (default: every twin).
Exits 0 when every setting passes, 1 when an output differs or a cell raised under one, 2 when
nothing worse happened than a notebook that could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
SETTINGS = {
    "no SIMD (ATEN_CPU_CAPABILITY=default)": {"ATEN_CPU_CAPABILITY": "default"},
    "AVX2, MKL compatible (ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE)": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_CBWR": "COMPATIBLE",
    },
}
PROBE = "import torch; print(torch.backends.cpu.get_cpu_capability())"


def capability(env: dict[str, str]) -> str:
    """The ATen CPU capability a fresh Python process gets under `env` (e.g. 'DEFAULT', 'AVX2')."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


# How a setting's problems are told, worst first; only a changed output speaks of the CPU.
VERDICTS = {
    "output differs": (
        "output differs under {setting}: {tests}.\n"
        "   A cell whose output depends on the CPU must assert a band and carry the tag "
        "nbval-ignore-output (README, 'What nbval compares')."
    ),
    "cell raised": "a cell raised under {setting}: {tests}.\n   First: {message}",
    "could not run": (
        "could not run under {setting}: {tests}.\n   First: {message}\n"
        "   Nothing was compared there, so nothing is known about the CPU; run it again, and if "
        "it persists, read the error above."
    ),
}
EXIT = {"output differs": 1, "cell raised": 1, "could not run": 2}


def run_setting(
    name: str, overrides: dict[str, str], notebooks: list[str], pytest_args: list[str]
) -> dict[str, list[tuple[str, str]]]:
    """Run nbval under one setting; return {outcome: [(test, message), ...]} of what went wrong."""
    env = {**os.environ, **overrides}
    simulated = capability(env)
    print(f"== portability: {name}: ATen dispatch {simulated}", flush=True)
    if overrides.get("ATEN_CPU_CAPABILITY", "").upper() != simulated:
        print(
            f"   note: this CPU cannot run ATen's {overrides['ATEN_CPU_CAPABILITY']} kernels; "
            f"ATen fell back to {simulated}",
            flush=True,
        )
    with tempfile.TemporaryDirectory() as scratch:
        outcomes_file = Path(scratch) / "outcomes.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            *notebooks,
            "--nbval-sanitize-with",
            str(SANITIZE),
            "-p",
            "no:cacheprovider",
            "-p",
            "tools.nbval_kernels",
            f"--outcomes-json={outcomes_file}",
            *pytest_args,
        ]
        code = subprocess.run(command, env=env, cwd=ROOT).returncode
        tests = json.loads(outcomes_file.read_text()) if outcomes_file.is_file() else {}
    problems: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for test, ended in tests.items():
        if ended["outcome"] in VERDICTS:
            problems[ended["outcome"]].append((test, ended["message"]))
    if code not in (0, 1) or (code == 1 and not problems):
        # pytest stopped before its tests could tell (a usage or collection error, an interrupt)
        problems["could not run"].append(("pytest", f"pytest exited with code {code}"))
    return problems


def summary(setting: str, outcome: str, found: list[tuple[str, str]]) -> str:
    """One verdict: what went wrong under a setting, with the tests it names (at most five)."""
    names = [test for test, _ in found]
    tests = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return VERDICTS[outcome].format(setting=setting, tests=tests, message=found[0][1])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    pytest_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="executed notebooks to check (default: book/*.ipynb)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*.ipynb"))
    missing = [name for name in notebooks if not (ROOT / name).is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)} (paths are read from {ROOT})")
        return 2
    verdicts = []
    for name, overrides in SETTINGS.items():
        problems = run_setting(name, overrides, notebooks, pytest_args)
        verdicts += [
            (outcome, summary(name, outcome, problems[outcome])) for outcome in VERDICTS if problems[outcome]
        ]
    if verdicts:
        print("portability FAILED:")
        for _, text in verdicts:
            print(f"- {text}")
        return min(EXIT[outcome] for outcome, _ in verdicts)
    print(f"portability: {len(notebooks)} notebook(s) pass nbval under all {len(SETTINGS)} simulated CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
