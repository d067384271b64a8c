"""The old name of bench/kernels_gpu.py (GPU-agnostic now): kept so that existing commands keep working."""

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.argv[0] = str(Path(__file__).with_name("kernels_gpu.py"))
    runpy.run_path(sys.argv[0], run_name="__main__")
