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

Usage: ``python tools/portability.py [NOTEBOOK ...] [-- PYTEST-ARGS ...]`` (default: every twin).
Exits 0 when every setting passes, 1 when one fails, naming it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
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


def run_setting(name: str, overrides: dict[str, str], notebooks: list[str], pytest_args: list[str]) -> int:
    env = {**os.environ, **overrides}
    simulated = capability(env)
    print(f"== portability: {name}: ATen dispatch {simulated}", flush=True)
    if overrides.get("ATEN_CPU_CAPABILITY", "").upper() != simulated:
        print(
            f"   note: this CPU cannot run ATen's {overrides['ATEN_CPU_CAPABILITY']} kernels; "
            f"ATen fell back to {simulated}",
            flush=True,
        )
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
        *pytest_args,
    ]
    return subprocess.run(command, env=env, cwd=ROOT).returncode


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    pytest_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="executed notebooks to check (default: book/*.ipynb)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*.ipynb"))
    failed = [
        name
        for name, overrides in SETTINGS.items()
        if run_setting(name, overrides, notebooks, pytest_args) != 0
    ]
    if failed:
        print(
            f"portability FAILED under: {'; '.join(failed)}.\nA cell whose output depends on the "
            "CPU "
            "must assert a band and carry the tag nbval-ignore-output (README, 'What nbval "
            "compares')."
        )
        return 1
    print(f"portability: {len(notebooks)} notebook(s) pass nbval under all {len(SETTINGS)} simulated CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
