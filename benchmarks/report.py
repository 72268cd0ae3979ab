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
            f"note: seed(s) {waited} took over {SHARED_MACHINE_RATIO}x their CPU time per thread on the wall "
            "clock: other jobs shared the machine; CPU s / threads is what an idle machine would take"
        )
    runs = len(result["runs"])
    spread = f" ± {result['std_test_acc']:.4f} (std over {runs} seeds)" if runs > 1 else " (one seed)"
    print(f"mean test accuracy {result['mean_test_acc']:.4f}{spread}")
    target = result["targets"]
    print(
        f"target: >= {target['mean_test_acc']:.2f} in <= {target['seconds_per_run']} s per run; accuracy "
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
    """The fields a trial changed; not epochs (a column of its own) nor tta (trials score both ways)."""
    fields = {**spec.get("vit", {}), **spec.get("train", {})}
    return ", ".join(f"{key}={value}" for key, value in fields.items() if key not in ("epochs", "tta"))


def show_trials(notes: list[str], trials: dict[str, dict]) -> None:
    """The trials as a table, under the log's notes on how they ran."""
    print("\n".join(notes) + "\n")
    width = max(len(trial_changes(trial["spec"])) for trial in trials.values())
    print(
        f"{'trial':<5} {'changes from the starting point':<{width}} {'epochs':>6} {'val':>7} "
        f"{'val TTA':>8} {'s':>5}"
    )
    for name, trial in trials.items():
        result, changes = trial["result"], trial_changes(trial["spec"])
        epochs = f"{len(trial['val'])}/{trial['spec']['train']['epochs']}"
        if result is None:
            print(
                f"{trial_label(name):<5} {changes:<{width}} {epochs:>6} {trial['val'][-1]:>7.4f}   (stopped)"
            )
            continue
        tta = f"{result['val_tta']:.4f}" if "val_tta" in result else "—"
        print(
            f"{trial_label(name):<5} {changes:<{width}} {epochs:>6} {result['val']:>7.4f} {tta:>8} "
            f"{result['wall']:>5}"
        )
