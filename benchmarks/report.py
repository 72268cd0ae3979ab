"""Reading and printing the stored benchmark results (`benchmarks/results/`) for the book.

The chapters show measurements that were made once, on the machine their results name; these
helpers print them. They live here, next to the scripts that write the results, not in the
library or in a chapter. Everything a reader should know about the conditions of a measurement
(the machine, its load, how many jobs shared it) is printed from the results themselves, so
the prose never has to explain a number's noise.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
# A run whose wall time exceeds its CPU time per thread by this factor waited for the CPU.
SHARED_MACHINE_RATIO = 1.5


def show_benchmark(name: str, results: Path = RESULTS) -> dict:
    """Print the stored training benchmark `name`: its conditions, one row per seed, the mean."""
    result = json.loads((results / f"{name}.json").read_text())
    threads = result.get("threads", 1)
    print(f"{result['command']}\nmachine: {result['machine']}, {result['load_average_end']} at the end")
    print(f"{'seed':>4} {'test acc':>9} {'wall s':>7} {'CPU s':>7}   (CPU s over {threads} thread(s))")
    for run in result["runs"]:
        print(
            f"{run['seed']:>4} {run['test_acc']:>9.4f} {run['wall_seconds']:>7.1f} {run['cpu_seconds']:>7.1f}"
        )
    waited = [
        run["seed"]
        for run in result["runs"]
        if run["wall_seconds"] > SHARED_MACHINE_RATIO * run["cpu_seconds"] / threads
    ]
    if waited:
        print(
            f"note: seed(s) {waited} took over {SHARED_MACHINE_RATIO}x their CPU time per thread on "
            "the wall "
            "clock: other jobs shared the machine; CPU s / threads is what an idle machine would "
            "take"
        )
    runs = len(result["runs"])
    spread = f" ± {result['std_test_acc']:.4f} (std over {runs} seeds)" if runs > 1 else " (one seed)"
    print(f"mean test accuracy {result['mean_test_acc']:.4f}{spread}")
    target = result["targets"]
    print(
        f"target: >= {target['mean_test_acc']:.2f} in <= {target['seconds_per_run']} s per run; "
        "accuracy "
        f"{'met' if result['met_accuracy'] else 'NOT met'}; time met in wall seconds: "
        f"{result['met_time_wall']}, "
        f"in CPU seconds per thread: {result['met_time_cpu']}"
    )
    return result


def read_trials(path: Path) -> tuple[list[str], dict[str, dict]]:
    """The notes ('# ' lines at the top) and the trials of a log that fashion_mnist_trial.py wrote.

    Each 'TRIAL {json}' line starts a trial, 'NAME ep E train A val B t S' lines are its epochs,
    and a 'RESULT ...' line ends it.
    """
    notes, trials, name = [], {}, None
    for line in path.read_text().splitlines():
        if line.startswith("# ") and not trials:
            notes.append(line.removeprefix("# "))
        elif line.startswith("TRIAL "):
            spec = json.loads(line.removeprefix("TRIAL "))
            name = spec["name"]
            trials[name] = {"spec": spec, "train": [], "val": [], "seconds": [], "result": None}
        elif name is not None and line.startswith(f"{name} ep "):
            words = line.split()
            for key, word in (("train", "train"), ("val", "val"), ("seconds", "t")):
                trials[name][key].append(float(words[words.index(word) + 1]))
        elif line.startswith("RESULT "):
            words = line.split()
            result = {"val": float(words[3]), "wall": int(words[words.index("wall") + 1])}
            if "TTA" in words:
                result["val_tta"] = float(words[words.index("TTA") + 2])
            trials[words[1]]["result"] = result
    return notes, trials


def trial_label(name: str) -> str:
    """A trial's short name: what comes before the first underscore ('H', 'P50')."""
    return name.split("_")[0]


def trial_changes(spec: dict) -> str:
    """The fields a trial changed; not epochs (a column of its own) nor tta (trials score both "
    "ways)."""
    fields = {**spec.get("vit", {}), **spec.get("train", {})}
    return ", ".join(f"{key}={value}" for key, value in fields.items() if key not in ("epochs", "tta"))


def show_trials(notes: list[str], trials: dict[str, dict]) -> None:
    """The trials as a table under the log's notes on how they ran, then what each trial changed
    (in a list of its own, so that the table stays narrow)."""
    print("\n".join(notes) + "\n")
    print(f"{'trial':<5} {'epochs':>6} {'val':>7} {'val TTA':>8} {'s':>5}")
    for name, trial in trials.items():
        result = trial["result"]
        epochs = f"{len(trial['val'])}/{trial['spec']['train']['epochs']}"
        if result is None:
            print(f"{trial_label(name):<5} {epochs:>6} {trial['val'][-1]:>7.4f}   (stopped)")
            continue
        tta = f"{result['val_tta']:.4f}" if "val_tta" in result else "—"
        print(f"{trial_label(name):<5} {epochs:>6} {result['val']:>7.4f} {tta:>8} {result['wall']:>5}")
    print("\nwhat each trial changed from the starting point:")
    for name, trial in trials.items():
        print(f"{trial_label(name):<5} {trial_changes(trial['spec'])}")


# The columns of bench_vs_timm.py's table after config, N and impl, in order.
BENCH_COLUMNS = ("fwd ms", "x timm", "train ms", "x timm", "fwd MiB", "x timm", "train MiB", "x timm",
                 "GFLOP/s", "% mm", "runs")  # fmt: skip


def read_bench_vs_timm(path: Path) -> tuple[list[str], list[dict], list[str]]:
    """The notes above the table, its rows, and the lines below it.

    A row is {"config", "N", "impl", "values"}, `values` the numbers as printed, in BENCH_COLUMNS order.
    """
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("config "))
    rows, tail = [], []
    for line in lines[start + 2 :]:
        if not line.strip():
            continue
        if line.startswith(("load average", "summary")):
            tail.append(line)
            continue
        values = line[35:].split()
        assert len(values) == len(BENCH_COLUMNS), line
        rows.append(
            {
                "config": line[:13].strip(),
                "N": int(line[14:17]),
                "impl": line[18:34].strip(),
                "values": values,
            }
        )
    return [line for line in lines[:start] if line.strip()], rows, tail


def show_bench_vs_timm(path: Path) -> list[dict]:
    """The stored report of bench_vs_timm.py, its 14-column table printed as two narrower ones."""
    head, rows, tail = read_bench_vs_timm(path)
    print("\n".join(head) + "\n")
    for title, columns in (
        ("time", range(0, 4)),
        ("memory, and the forward pass's FLOP/s", range(4, 11)),
    ):
        widths = [max(len(BENCH_COLUMNS[i]), 7) for i in columns]
        print(f"{title}:")
        print(
            f"{'config':<13} {'N':>3} {'impl':<16} "
            + " ".join(f"{BENCH_COLUMNS[i]:>{w}}" for i, w in zip(columns, widths))
        )
        previous = None
        for row in rows:
            if previous is not None and (row["config"], row["N"]) != previous:
                print()
            previous = (row["config"], row["N"])
            cells = " ".join(f"{row['values'][i]:>{w}}" for i, w in zip(columns, widths))
            print(f"{row['config']:<13} {row['N']:>3} {row['impl']:<16} {cells}")
        print()
    print("\n".join(tail))
    return rows
