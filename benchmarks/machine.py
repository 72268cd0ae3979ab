"""What the benchmark scripts say about the machine they ran on."""

import platform
import sys
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo, or what `platform` knows elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def import_timm():
    """timm, or None after printing one `error:` line that says how to install it."""
    try:
        import timm
    except ImportError:
        print("error: timm is not installed (pip install -e '.[dev]')", file=sys.stderr)
        return None
    return timm
