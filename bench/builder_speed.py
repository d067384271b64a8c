#!/usr/bin/env python3
"""Builder speed: ``kernel-builder build --local`` against ``pip install -e`` of the generated project.

    .venv/bin/python bench/builder_speed.py --output docs/builder-performance.md

(any interpreter of a virtual environment with this checkout's ``kernels``
and ``kernel-builder``, Torch, scikit-build-core, CMake >= 3.26 and Ninja
installed; nothing is downloaded: pip runs with ``--no-index --no-deps
--no-build-isolation``).

Every repetition works on fresh copies of ``examples/relu`` (one per
configuration) in a temporary directory and times, as subprocesses:

* ``kernel-builder``: ``kernel-builder build --local COPY --unique-id bench``
  with an empty ``KERNEL_BUILDER_CACHE``;
* ``pip -e``: ``pip install --no-build-isolation --no-deps --no-index -e .``
  of the project ``kernel-builder create-pyproject --unique-id bench``
  generated in the copy, into a private ``--prefix`` (scikit-build-core's
  default: a new temporary build directory for every install);
* ``pip -e, build-dir``: the same with ``-C build-dir=DIR``, a persistent
  CMake build directory (what scikit-build-core needs for incremental
  editable rebuilds),

in three states: ``cold`` (nothing built yet), ``touched`` (a comment
appended to ``relu_cpu/relu_cpu.cpp``) and ``no-op`` (nothing changed since
the last build). The three configurations alternate within each state and
the order rotates between repetitions; the report gives medians and the
ratios ours / pip. For every build it counts the compile steps Ninja ran
and, where the CMake build tree is kept, which object files were rewritten.

The unique id is fixed (``--unique-id bench``) on both sides: it is compiled
into every object (``TORCH_EXTENSION_NAME``), so a build whose id changes
recompiles everything (see the report).

Then one more sequence of ``kernel-builder`` builds runs with in-process
timers (the CLI imported in a worker interpreter, the scikit-build-core
subprocess's ``***`` progress lines time-stamped) to show where the time of
each state goes, plus a fourth build with nothing changed but without
``--unique-id`` (outside git, a new random id); the pip phases come from
time-stamping ``pip -v`` output.

The report is Markdown. When ``--output`` exists, only the text between the
``<!-- BEGIN GENERATED -->`` and ``<!-- END GENERATED -->`` markers is
replaced. ``--json`` also writes the raw samples; ``--from-json`` renders
them again without measuring.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model, os_description, usable_cores  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "relu"
TOUCHED = "relu_cpu/relu_cpu.cpp"
UNIQUE_ID = "bench"
CONFIGS = ("kernel-builder", "pip -e", "pip -e, build-dir")
STATES = ("cold", "touched", "no-op")
#: What create-pyproject may have left in examples/relu: never copied.
GENERATED_NAMES = ("pyproject.toml", "CMakeLists.txt", "cmake", "registration.h")
BEGIN, END = "<!-- BEGIN GENERATED -->", "<!-- END GENERATED -->"
#: A Ninja compile step, e.g. ``[1/3] Building CXX object CMakeFiles/...o`` (pip -v indents it).
COMPILE_STEP = re.compile(r"^\s*\[\d+/\d+\] Building \S+ object (\S+)\s*$", re.MULTILINE)
#: scikit-build-core's progress lines, in the order it prints them.
SKBUILD_MARKS = (
    ("*** Configuring CMake", "configure"),
    ("*** Building project", "build"),
    ("*** Installing project", "install"),
    ("*** Making ", "wheel"),
)


@dataclass
class Run:
    config: str
    state: str
    seconds: float
    cpu_seconds: float  # user + system time of the whole process tree
    compile_steps: list[str]
    objects_rewritten: Optional[int]  # None where the build tree is temporary
    objects_total: Optional[int]
    phases: dict[str, float] = field(default_factory=dict)


# --- running one build -----------------------------------------------------------------------------


def bench_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    # The environment's CMake and Ninja first (scikit-build-core needs CMake >= 3.26).
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"  # progress lines arrive when they are printed
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, list[tuple[float, str]], str]:
    """Run ``command``: wall seconds, CPU seconds of its process tree, time-stamped output lines
    (relative to the start), output."""
    lines: list[tuple[float, str]] = []
    cpu_start = children_cpu()
    start = time.perf_counter()
    with subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace") as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.perf_counter() - start, line.rstrip("\n")))
        rc = proc.wait()
    seconds = time.perf_counter() - start
    cpu = children_cpu() - cpu_start
    output = "\n".join(line for _, line in lines)
    if rc != 0:
        raise SystemExit(f"failed ({rc}): {' '.join(command)}\n{output[-4000:]}")
    return seconds, cpu, lines, output


def skbuild_phases(lines: list[tuple[float, str]], start: float, end: float, first: str,
                   last: str) -> dict[str, float]:
    """Split [start, end] at scikit-build-core's progress lines (the last occurrence of each)."""
    marks: list[tuple[float, str]] = []
    for text, name in SKBUILD_MARKS:
        found = [t for t, line in lines if line.lstrip().startswith(text)]
        if found:
            marks.append((found[-1], name))
    phases: dict[str, float] = {}
    previous, label = start, first
    for t, name in sorted(marks):
        phases[label] = t - previous
        previous, label = t, name
    phases[label] = end - previous
    phases[last] = phases.pop(label)
    return phases


def object_mtimes(build_tree: Optional[Path]) -> dict[str, int]:
    if build_tree is None or not build_tree.is_dir():
        return {}
    return {str(p.relative_to(build_tree)): p.stat().st_mtime_ns for p in build_tree.rglob("*.o")}


class Project:
    """One configuration's copy of the example and how to build it."""

    def __init__(self, config: str, root: Path) -> None:
        self.config = config
        self.root = root
        self.kernel_dir = root / "relu"
        shutil.copytree(EXAMPLE, self.kernel_dir, ignore=shutil.ignore_patterns(
            "build", "result", ".venv", "__pycache__", "*.pyc", *GENERATED_NAMES))
        self.cache = root / "kernel-builder-cache"
        self.pip_build = root / "pip-build"
        self.prefix = root / "prefix"
        if config != "kernel-builder":
            subprocess.run([sys.executable, "-m", "kernel_builder", "create-pyproject", "--unique-id", UNIQUE_ID,
                            str(self.kernel_dir)], check=True, capture_output=True, env=bench_env({}))

    def build_tree(self) -> Optional[Path]:
        if self.config == "kernel-builder":
            trees = sorted(self.cache.glob("*/*/cmake"))
            return trees[0] if trees else None
        return self.pip_build if self.config == "pip -e, build-dir" else None

    def command(self) -> list[str]:
        if self.config == "kernel-builder":
            return [sys.executable, "-m", "kernel_builder", "build", "--local", str(self.kernel_dir),
                    "--unique-id", UNIQUE_ID]
        command = [sys.executable, "-m", "pip", "install", "-v", "--no-build-isolation", "--no-deps", "--no-index",
                   "--prefix", str(self.prefix), "-e", "."]
        if self.config == "pip -e, build-dir":
            command += ["-C", f"build-dir={self.pip_build}"]
        return command

    def touch(self) -> None:
        with open(self.kernel_dir / TOUCHED, "a", encoding="utf-8") as f:
            f.write("// touched by bench/builder_speed.py\n")

    def build(self, state: str) -> Run:
        before = object_mtimes(self.build_tree())
        env = bench_env({"KERNEL_BUILDER_CACHE": str(self.cache)})
        seconds, cpu, lines, output = run_timed(self.command(), self.kernel_dir, env)
        if self.config == "kernel-builder":
            logs = sorted(self.cache.glob("*/*/build.log"))
            output = logs[0].read_text(encoding="utf-8", errors="replace")
            phases: dict[str, float] = {}
        else:
            phases = skbuild_phases(lines, 0.0, seconds, "pip start, metadata, backend start", "pip installs the wheel, exit")
        after = object_mtimes(self.build_tree())
        rewritten = total = None
        if self.build_tree() is not None:
            total = len(after)
            rewritten = sum(1 for name, mtime in after.items() if before.get(name) != mtime)
        return Run(self.config, state, seconds, cpu, COMPILE_STEP.findall(output), rewritten, total, phases)


# --- the profiled kernel-builder sequence -----------------------------------------------------------

#: Runs ``kernel-builder`` in this interpreter with timers around the build's phases.
WORKER = r'''
import json, sys, time
marks = [("start", time.time())]
from kernel_builder import cli
from kernel_builder.build import local as local_build
marks.append(("imports", time.time()))

def timed(name, fn):
    def wrapper(*args, **kwargs):
        marks.append((name + ":start", time.time()))
        try:
            return fn(*args, **kwargs)
        finally:
            marks.append((name + ":end", time.time()))
    return wrapper

for name in ("create_pyproject", "_unpack_package", "write_metadata", "write_compat_package",
             "remove_bytecode", "write_card", "replace_dir"):
    setattr(local_build, name, timed(name, getattr(local_build, name)))

import subprocess as _subprocess

class _Streaming:
    """local_build's subprocess module, with the wheel build's progress lines time-stamped."""
    def __getattr__(self, name):
        return getattr(_subprocess, name)
    def run(self, command, cwd=None, env=None, **kwargs):
        marks.append(("wheel build:start", time.time()))
        out = []
        with _subprocess.Popen(command, cwd=cwd, env=env, stdout=_subprocess.PIPE, stderr=_subprocess.STDOUT,
                               text=True, errors="replace") as proc:
            for line in proc.stdout:
                out.append(line)
                if line.lstrip().startswith("***"):
                    marks.append(("skbuild:" + line.strip(), time.time()))
            rc = proc.wait()
        marks.append(("wheel build:end", time.time()))
        return _subprocess.CompletedProcess(command, rc, "".join(out), "")

local_build.subprocess = _Streaming()
output = sys.argv[1]
sys.argv = ["kernel-builder", *sys.argv[2:]]
try:
    cli.main()
except SystemExit as e:
    code = e.code
else:
    code = 0
marks.append(("done", time.time()))
with open(output, "w") as f:
    json.dump({"marks": marks, "code": code}, f)
'''


def kernel_builder_phases(marks: list[tuple[str, float]], spawned: float, ended: float) -> dict[str, float]:
    """Wall seconds per phase of one profiled ``kernel-builder build``."""
    at: dict[str, float] = {}
    for name, t in marks:
        if name.startswith("skbuild:"):
            line = name[len("skbuild:"):]
            for text, phase in SKBUILD_MARKS:
                if line.startswith(text):
                    at[phase] = t  # the last occurrence
        else:
            at.setdefault(name, t)
    wheel_start = at["wheel build:start"]
    points = [
        ("Python start, imports (kernel_builder, kernels, click)", at["imports"]),
        ("config, unique id, variant (imports Torch)", at["create_pyproject:start"]),
        ("create-pyproject (regenerate the project)", at["create_pyproject:end"]),
        ("wheel build: Python, scikit-build-core start", at.get("configure", wheel_start)),
        ("wheel build: CMake configure", at.get("build", wheel_start)),
        ("wheel build: Ninja", at.get("install", wheel_start)),
        ("wheel build: CMake install", at.get("wheel", wheel_start)),
        ("wheel build: zip the wheel, exit", at["wheel build:end"]),
        ("unpack the wheel", at["_unpack_package:end"]),
        ("metadata, compat package, card, atomic replace", at["replace_dir:end"]),
        ("exit", ended),
    ]
    phases: dict[str, float] = {}
    previous = spawned
    for name, t in points:
        phases[name] = max(0.0, t - previous)
        previous = max(previous, t)
    return phases


#: The profiled sequence ends with a build that changes nothing but lets kernel-builder pick the
#: unique id: outside git that is a new random id per build.
DEFAULT_ID_STATE = "no-op, no --unique-id"


def profile_kernel_builder(root: Path) -> list[Run]:
    project = Project("kernel-builder", root)
    worker = root / "worker.py"
    worker.write_text(WORKER, encoding="utf-8")
    runs = []
    for i, state in enumerate((*STATES, DEFAULT_ID_STATE)):
        if state == "touched":
            project.touch()
        marks_file = root / f"marks-{i}.json"
        before = object_mtimes(project.build_tree())
        args = project.command()[3:]
        if state == DEFAULT_ID_STATE:
            args = args[:args.index("--unique-id")]
        command = [sys.executable, str(worker), str(marks_file), *args]
        spawned = time.time()
        seconds, cpu, _, _ = run_timed(command, project.kernel_dir, bench_env({"KERNEL_BUILDER_CACHE": str(project.cache)}))
        ended = time.time()
        data = json.loads(marks_file.read_text())
        if data["code"] not in (0, None):
            raise SystemExit(f"profiled kernel-builder build failed ({data['code']})")
        after = object_mtimes(project.build_tree())
        log = sorted(project.cache.glob("*/*/build.log"))[0].read_text(errors="replace")
        runs.append(Run("kernel-builder", state, seconds, cpu, COMPILE_STEP.findall(log),
                        sum(1 for n, m in after.items() if before.get(n) != m), len(after),
                        kernel_builder_phases([tuple(m) for m in data["marks"]], spawned, ended)))
    return runs


# --- machine and report ----------------------------------------------------------------------------


def first_line(command: list[str], env: Optional[dict[str, str]] = None) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "not found"


def machine_info(build_tree: Optional[Path]) -> list[tuple[str, str]]:
    from importlib.metadata import PackageNotFoundError, version

    def pkg(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    cpu = cpu_model()
    usable = usable_cores()
    os_name = os_description()
    env = bench_env({})
    compiler = "c++"
    if build_tree is not None and (build_tree / "CMakeCache.txt").is_file():
        for line in (build_tree / "CMakeCache.txt").read_text(errors="replace").splitlines():
            if line.startswith("CMAKE_CXX_COMPILER:"):
                compiler = line.split("=", 1)[1]
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        memory_text = f"{memory:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory_text = "unknown"
    commit = first_line(["git", "-C", str(REPO), "describe", "--always", "--dirty"])
    return [
        ("CPU", cpu),
        ("cores", f"{os.cpu_count()} logical, {usable} usable by this process"),
        ("memory", memory_text),
        ("OS", os_name),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("torch", pkg("torch")),
        ("CMake", first_line(["cmake", "--version"], env)),
        ("Ninja", first_line(["ninja", "--version"], env)),
        ("C++ compiler", f"{first_line([compiler, '--version'])} ({compiler})"),
        ("scikit-build-core", pkg("scikit-build-core")),
        ("pip", pkg("pip")),
        ("kernel-builder", f"{pkg('kernel-builder')} at {commit}"),
    ]


def median(values: list[float]) -> float:
    return statistics.median(values)


def fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def steps_text(runs: list[Run]) -> str:
    counts = sorted({len(r.compile_steps) for r in runs})
    text = "/".join(str(c) for c in counts)
    rewritten = sorted({(r.objects_rewritten, r.objects_total) for r in runs if r.objects_rewritten is not None})
    if rewritten:
        text += " (" + ", ".join(f"{a} of {b} .o rewritten" for a, b in rewritten) + ")"
    return text


def object_name(path: str) -> str:
    """``CMakeFiles/<target>.dir/<absolute source path>.o`` as ``<target>: <file>.o``."""
    match = re.match(r"CMakeFiles/([^/]+)\.dir/.*?([^/]+)$", path)
    return f"{match[1]}: {match[2]}" if match else path


STATE_TEXT = {
    "cold": "cold (empty cache, nothing built)",
    "touched": f"touched `{TOUCHED}` (comment appended)",
    "no-op": "no-op (nothing changed)",
}


def time_table(by: dict[tuple[str, str], list[Run]], metric: str, title: str) -> list[str]:
    out = [
        f"### {title}",
        "",
        "| build | kernel-builder | pip -e | ratio | pip -e, build-dir | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for state in STATES:
        ours = [getattr(r, metric) for r in by["kernel-builder", state]]
        cells = [STATE_TEXT[state], fmt(ours)]
        for config in CONFIGS[1:]:
            theirs = [getattr(r, metric) for r in by[config, state]]
            cells += [fmt(theirs), f"**{median(ours) / median(theirs):.2f}**"]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    return out


#: Ratios this close to 1 are reported as ties: the spread between runs on a shared machine.
TIE_BAND = 0.05


def verdict(by: dict[tuple[str, str], list[Run]], state: str, config: str, metric: str) -> str:
    ours = median([getattr(r, metric) for r in by["kernel-builder", state]])
    ratio = ours / median([getattr(r, metric) for r in by[config, state]])
    if ratio < 1 - TIE_BAND:
        return "faster"
    if ratio > 1 + TIE_BAND:
        return "**slower**"
    return "tie"


def render(runs: list[Run], profile: list[Run], machine: list[tuple[str, str]], meta: dict) -> str:
    by = {(c, s): [r for r in runs if r.config == c and r.state == s] for c in CONFIGS for s in STATES}
    out = [
        f"Measured {meta['date']} with {meta['repeats']} interleaved repetition(s) per cell "
        f"({meta['minutes']:.0f} minutes in all); load average {meta['load_before']} before, "
        f"{meta['load_after']} after. Regenerate with:",
        "",
        "```bash",
        meta["command"],
        "```",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine],
        "",
        "Ratios are ours / pip: below 1 means `kernel-builder build --local` is faster. Wall time is "
        "what a user waits; CPU time (user + system of the whole process tree: Python, CMake, Ninja, "
        "the compiler) is far less disturbed by other load on a shared machine.",
        "",
        *time_table(by, "seconds", "Wall time, seconds: median (min–max)"),
        *time_table(by, "cpu_seconds", "CPU time, seconds: median (min–max)"),
    ]
    out += [
        "### Compile steps Ninja ran (object files rewritten in the kept build tree)",
        "",
        "| build | kernel-builder | pip -e | pip -e, build-dir |",
        "|---|---|---|---|",
    ]
    for state in STATES:
        out.append("| " + " | ".join([state] + [steps_text(by[c, state]) for c in CONFIGS]) + " |")
    touched = by["kernel-builder", "touched"]
    only = all(len(r.compile_steps) == 1 and r.compile_steps[0].endswith("relu_cpu.cpp.o") for r in touched)
    out += [
        "",
        ("After touching one source, every `kernel-builder` rebuild compiled exactly that file "
         f"(`{object_name(touched[0].compile_steps[0])}`) and relinked; "
         "the other object in the cached CMake build tree was reused."
         if only else
         "**Not incremental:** a `kernel-builder` rebuild after touching one source compiled "
         + ", ".join(sorted({str(len(r.compile_steps)) for r in touched})) + " file(s)."),
        "",
        "### Where the time goes: kernel-builder, one profiled sequence (seconds)",
        "",
        "| phase | " + " | ".join(r.state for r in profile) + " |",
        "|---|" + "---:|" * len(profile),
    ]
    names = list(profile[0].phases) if profile else []
    for name in names:
        out.append(f"| {name} | " + " | ".join(f"{r.phases.get(name, 0.0):.2f}" for r in profile) + " |")
    out.append("| **total** | " + " | ".join(f"**{r.seconds:.2f}**" for r in profile) + " |")
    out.append("| CPU time (process tree) | " + " | ".join(f"{r.cpu_seconds:.2f}" for r in profile) + " |")
    out.append("| compile steps | " + " | ".join(str(len(r.compile_steps)) for r in profile) + " |")
    out += [
        "",
        "### pip -e phases, from `pip -v` output (seconds, medians)",
        "",
        "| phase | " + " | ".join(f"{c}: {s}" for c in CONFIGS[1:] for s in STATES) + " |",
        "|---|" + "---:|" * (len(CONFIGS[1:]) * len(STATES)),
    ]
    pip_names: list[str] = []
    for c in CONFIGS[1:]:
        for s in STATES:
            for r in by[c, s]:
                pip_names += [n for n in r.phases if n not in pip_names]
    for name in pip_names:
        cells = []
        for c in CONFIGS[1:]:
            for s in STATES:
                values = [r.phases[name] for r in by[c, s] if name in r.phases]
                cells.append(f"{median(values):.2f}" if values else "")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += [
        "",
        f"### Verdict: kernel-builder against each baseline (wall / CPU; ratios within {TIE_BAND:.0%} of 1 are ties)",
        "",
        "| build | " + " | ".join(f"vs {c}" for c in CONFIGS[1:]) + " |",
        "|---|" + "---|" * len(CONFIGS[1:]),
    ]
    for state in STATES:
        out.append(f"| {state} | " + " | ".join(
            f"{verdict(by, state, c, 'seconds')} / {verdict(by, state, c, 'cpu_seconds')}" for c in CONFIGS[1:]) + " |")
    return "\n".join(out) + "\n"


HEADER = """\
# Builder speed: `kernel-builder build --local` against `pip install -e`

`bench/builder_speed.py` builds `examples/relu` (one CPU kernel source and
the Torch binding) with the host toolchain in three ways, side by side in one
run: `kernel-builder build --local`, and `pip install --no-build-isolation
--no-deps --no-index -e .` of the project `kernel-builder create-pyproject`
generates, once with scikit-build-core's defaults and once with a persistent
`-C build-dir=...`. Each is timed cold, after appending a comment to one
source file, and with nothing changed. The numbers below are a shared build
machine's; compare the ratios, not the seconds.

"""


def write_report(path: Path, generated: str) -> None:
    block = f"{BEGIN}\n{generated}{END}\n"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            path.write_text(head + block.rstrip("\n") + tail, encoding="utf-8")
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + block, encoding="utf-8")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, help="Markdown report to write (e.g. docs/builder-performance.md)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repetitions per cell (default 3)")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled kernel-builder sequence")
    parser.add_argument("--json", type=Path, help="also write the raw samples as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--from-json", type=Path, help="measure nothing: render the samples of an earlier --json")
    args = parser.parse_args(argv)

    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.from_json is not None:
        try:
            data = json.loads(args.from_json.read_text())
            runs, profile = [Run(**r) for r in data["runs"]], [Run(**r) for r in data["profile"]]
            machine, meta = [tuple(m) for m in data["machine"]], data["meta"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            print(f"error: --from-json {args.from_json}: not the JSON of an earlier --json run ({error})",
                  file=sys.stderr)
            return 2
        report = render(runs, profile, machine, meta)
        print(report)
        if args.output is not None:
            write_report(args.output, report)
        return 0

    started = time.perf_counter()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    tmp = Path(tempfile.mkdtemp(prefix="builder-speed-"))
    runs: list[Run] = []
    profile: list[Run] = []
    try:
        for rep in range(args.repeats):
            projects = {c: Project(c, tmp / f"rep{rep}" / f"config{i}") for i, c in enumerate(CONFIGS)}
            order = CONFIGS[rep % len(CONFIGS):] + CONFIGS[:rep % len(CONFIGS)]
            for state in STATES:
                for config in order:
                    project = projects[config]
                    if state == "touched":
                        project.touch()
                    run = project.build(state)
                    runs.append(run)
                    print(f"rep {rep + 1}/{args.repeats} {state:8} {config:18} {run.seconds:7.2f} s, CPU {run.cpu_seconds:7.2f} s  "
                          f"{len(run.compile_steps)} compile step(s)", flush=True)
            if rep == args.repeats - 1:  # the compiler CMake found is in this build tree
                machine = machine_info(projects["kernel-builder"].build_tree())
            shutil.rmtree(tmp / f"rep{rep}", ignore_errors=True)
        if not args.no_profile:
            profile = profile_kernel_builder(tmp / "profile")
            for run in profile:
                print(f"profile  {run.state:8} {run.seconds:7.2f} s  " +
                      ", ".join(f"{k}: {v:.2f}" for k, v in run.phases.items()), flush=True)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    command = ".venv/bin/python bench/builder_speed.py"
    if args.output is not None:
        command += f" --output {args.output}"
    if args.repeats != 3:
        command += f" --repeats {args.repeats}"
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "repeats": args.repeats,
        "minutes": (time.perf_counter() - started) / 60,
        "load_before": load_before,
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "command": command,
    }
    report = render(runs, profile, machine, meta)
    print(report)
    if args.output is not None:
        write_report(args.output, report)
    if args.json is not None:
        args.json.write_text(json.dumps({"meta": meta, "machine": machine, "runs": [r.__dict__ for r in runs],
                                         "profile": [r.__dict__ for r in profile]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
