"""What the benchmarks report about the machine they ran on (shared by bench/*.py)."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def os_description() -> str:
    """The distribution's name (/etc/os-release) and the kernel release."""
    try:
        pretty = re.search(r'^PRETTY_NAME="?([^"\n]*)', Path("/etc/os-release").read_text(), re.M)
    except OSError:
        pretty = None
    if pretty:
        return f"{pretty[1]} ({platform.system()} {platform.release()})"
    return platform.platform()


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask), not all the machine has."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
