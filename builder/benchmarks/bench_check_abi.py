#!/usr/bin/env python3
"""Time ``kernel-builder check-abi`` on a large shared library, next to ``auditwheel show``.

    python builder/benchmarks/bench_check_abi.py [LIBRARY] [--repeat N]

LIBRARY defaults to the installed Torch's ``libtorch_cpu.so`` (over 400 MB
for Torch 2.13 CPU); it must be at least 100 MB. Both tools run in the same
process invocation of this script on the same file:

* ``kernel-builder check-abi LIBRARY`` (in a subprocess, so start-up counts),
  and the in-process check alone (reading + all checks);
* ``auditwheel show WHEEL``, where WHEEL is a throw-away wheel holding only
  LIBRARY (auditwheel inspects wheels, not bare libraries). auditwheel is not
  a project dependency: ``pip install auditwheel`` first, or the comparison is
  skipped with a note.

Prints one line per measurement: the best and median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path


def default_library() -> Path:
    import torch

    return Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"


def timed(runs: int, action) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def report(label: str, times: list[float]) -> None:
    print(f"{label:<56} best {min(times):7.3f} s   median {statistics.median(times):7.3f} s   ({len(times)} runs)")


def make_wheel(library: Path, directory: Path) -> Path:
    wheel = directory / "benchlib-1.0-cp39-abi3-linux_x86_64.whl"
    dist = "benchlib-1.0.dist-info"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.write(library, f"benchlib/{library.name}")
        zf.writestr("benchlib/__init__.py", "")
        zf.writestr(f"{dist}/METADATA", "Metadata-Version: 2.1\nName: benchlib\nVersion: 1.0\n")
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: false\n"
                                     "Tag: cp39-abi3-linux_x86_64\n")
        # auditwheel finds the wheel's files through RECORD.
        files = [f"benchlib/{library.name}", "benchlib/__init__.py", f"{dist}/METADATA", f"{dist}/WHEEL"]
        zf.writestr(f"{dist}/RECORD", "".join(f"{f},,\n" for f in files) + f"{dist}/RECORD,,\n")
    return wheel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("library", nargs="?", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    library = args.library or default_library()
    size = library.stat().st_size
    if size < 100 * 1024 * 1024:
        raise SystemExit(f"{library} is {size / 1e6:.0f} MB; the benchmark needs a library of at least 100 MB")
    print(f"library: {library} ({size / 1e6:.0f} MB)")

    from kernel_builder.check.abi import AbiOptions, check_library

    options = AbiOptions().validated()
    check_library(library, options)  # warm the page cache and the data files
    report("check-abi, in process (read + check)", timed(args.repeat, lambda: check_library(library, options)))
    command = [sys.executable, "-m", "kernel_builder", "check-abi", str(library)]
    report("kernel-builder check-abi (subprocess)",
           timed(args.repeat, lambda: subprocess.run(command, capture_output=True)))

    auditwheel = shutil.which("auditwheel") or (
        str(Path(sys.executable).parent / "auditwheel") if (Path(sys.executable).parent / "auditwheel").exists()
        else None)
    if auditwheel is None:
        print("auditwheel show: skipped (pip install auditwheel to compare)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        wheel = make_wheel(library, Path(tmp))
        env = dict(os.environ)
        # Let auditwheel find the library's Torch dependencies next to it.
        env["LD_LIBRARY_PATH"] = f"{library.parent}:{env.get('LD_LIBRARY_PATH', '')}"
        done = subprocess.run([auditwheel, "show", str(wheel)], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            print(f"auditwheel show failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
            return
        report("auditwheel show (subprocess, same library in a wheel)",
               timed(args.repeat, lambda: subprocess.run([auditwheel, "show", str(wheel)], capture_output=True,
                                                         env=env)))


if __name__ == "__main__":
    main()
