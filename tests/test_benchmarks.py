"""The benchmark scripts run and print their tables and summaries (timings are not checked: they "
"are noise here)."""

import json
import re
import subprocess
import sys

import pytest

from conftest import ROOT, requires_fashion_mnist


def test_quick_benchmark_prints_table_and_summary(tmp_path):
    pytest.importorskip("timm")
    report = tmp_path / "bench.txt"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_vs_timm.py"),
            "--quick",
            "--threads",
            "1",
            "--output",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("machine: ") and "torch threads 1" in lines[0]
    assert any(line.startswith("matmul: 1024x1024 fp32, timed in every round") for line in lines)
    header = next(i for i, line in enumerate(lines) if line.startswith("config"))
    for column in ("fwd ms", "train ms", "fwd MiB", "train MiB", "GFLOP/s", "% mm", "x timm"):
        assert column in lines[header]
    number = r"\s+\d+\.\d+"
    rows = [
        line
        for line in lines
        if re.match(r"tiny\s+\d+ (vit_lib fused|vit_lib explicit|timm)\s", line)
    ]
    assert len(rows) == 2 * 3  # batches 1 and 4, three implementations each
    for row in rows:
        assert re.search(rf"({number}){{9}}\s+\d+\s+\d+$", row), row
    assert [r.split()[1] for r in rows if r.split()[2] == "timm"] == ["1", "4"]
    timm_rows = [r for r in rows if " timm " in r]
    assert all(re.search(r"\s1\.00\s", r) for r in timm_rows)  # timm is its own baseline
    summary = lines[-1]
    assert summary.startswith("summary: worst vit_lib/timm ratio fused time ")
    assert re.search(
        r"targets fused<=1.00x (met|NOT met), explicit<=1.10x (met|NOT met), "
        r"fwd>=70%mm@N=4 (met|NOT met)$",
        summary,
    )
    assert report.read_text().splitlines() == lines


@pytest.mark.parametrize(
    "script, extra",
    [
        ("train_digits.py", ["--seeds", "0", "1", "--train-subset", "64"]),
        # 18-view TTA over 15,000 images would be most of this test's time: score 256 of each
        # instead
        pytest.param(
            "train_fashion_mnist.py",
            ["--train-subset", "128", "--eval-subset", "256"],
            marks=requires_fashion_mnist,
        ),
    ],
)
def test_training_benchmark_prints_summary_and_writes_json(tmp_path, script, extra):
    """A one-epoch run of a training benchmark: its summary line agrees with the JSON it writes."""
    output = tmp_path / "result.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / script),
            "--epochs",
            "1",
            "--threads",
            "1",
            "--output",
            str(output),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(output.read_text())
    runs = data["runs"]
    assert [r["epochs"] for r in runs] == [1] * len(runs) and data["threads"] == 1
    assert data["mean_test_acc"] == pytest.approx(sum(r["test_acc"] for r in runs) / len(runs))
    assert data["met_accuracy"] == (data["mean_test_acc"] >= data["targets"]["mean_test_acc"])
    assert data["met_time_wall"] == (
        max(r["wall_seconds"] for r in runs) <= data["targets"]["seconds_per_run"]
    )
    assert all(len(r["history"]) == 1 and 0 <= r["test_acc"] <= 1 for r in runs)
    summary = result.stdout.splitlines()[-1]
    assert summary.startswith(
        f"summary: {data['benchmark']} mean test accuracy {data['mean_test_acc']:.4f}"
    )
    assert f"over {len(runs)} seed(s)" in summary
    assert re.search(
        r"targets >= 0\.\d+ \((met|NOT met)\), <= \d+ s per run "
        r"\(wall (met|NOT met), CPU (met|NOT met)\)$",
        summary,
    ), summary


def test_the_family_build_benchmark_reports_its_four_measurements(tmp_path):
    pytest.importorskip("timm")
    output = tmp_path / "family_build.json"
    script = str(ROOT / "benchmarks" / "family_build.py")
    result = subprocess.run(
        [sys.executable, script, "--rounds", "1", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    stored = json.loads(output.read_text())
    assert re.search(r"ratio\s+\d+\.\d\dx \(target <= 1\.2x\)", result.stdout)
    assert stored["modules"]["family"]["built"] == stored["modules"]["family"]["kept"]
    assert stored["same_weights"] is True and stored["largest_cpu_tensor"] <= 24
    # the exit status is the verdict; the timings are noise on a shared machine
    assert result.returncode == (0 if stored["ratio"] <= stored["target_ratio"] else 1)
    refused = subprocess.run(
        [sys.executable, script, "--rounds", "0"], capture_output=True, text=True, cwd=tmp_path
    )
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1].endswith("expected an integer >= 1, got '0'")
