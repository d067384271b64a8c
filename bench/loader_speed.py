#!/usr/bin/env python3
"""Loader speed: this repository's ``kernels`` against the released ``kernels`` from the package registry.

    python bench/loader_speed.py --output docs/loader-performance.md

(run it with the interpreter of the virtual environment that has this
checkout's ``kernels`` and ``kernel-builder`` installed, e.g.
``.venv/bin/python`` after the README's test set-up).

What it does, in one run:

1. Makes (or reuses) a separate virtual environment with the upstream
   ``kernels==0.17.2`` (``--upstream-venv``, default
   ``~/.cache/kernels-bench/upstream-venv``). Torch, at exactly the version
   installed here, comes only from the local package sources named in the pip
   configuration (``file://`` indexes and ``find-links`` directories), never
   from a remote index unless ``--torch-from registry`` is given. The
   packages both loaders share (``huggingface_hub``, ``httpx2``, ``numpy``,
   ...) are pinned to the versions installed here, so both talk to the Hub
   through the same client.
2. Builds ``examples/relu`` with ``kernel-builder build --local`` (or takes
   ``--kernel-dir``), starts the test Hub (``tests/hub_server``) on
   127.0.0.1, publishes the build as ``kernels-community/relu`` v1 with
   ``kernel-builder upload`` and a 40-variant repository
   ``kernels-community/relu-variants`` (the build under 40 variant names).
3. Measures each row in fresh interpreters, one per package, interleaved
   (the order alternates between repetitions), and reports medians, the
   ratio ours/upstream and how many HTTP requests the Hub saw.
4. For every row where ours is slower, runs ours once more under cProfile
   and puts the top functions in the report.

The report is Markdown. When the output file already exists, only the part
between the ``<!-- BEGIN GENERATED -->`` and ``<!-- END GENERATED -->``
markers is replaced, so hand-written analysis around it is kept.

``--quick --ours-only`` (one repetition, no upstream environment) is what
the test suite runs. ``--json`` writes the raw measurements.

The script also runs itself as the measurement worker (``--worker``) in both
environments, so it imports nothing but the standard library at the top.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model, os_description, usable_cores  # noqa: E402

SCRIPT = Path(__file__).resolve()
REPO_ROOT = SCRIPT.parents[1]
UPSTREAM_VERSION = "0.17.2"
RELU_REPO = "kernels-community/relu"
VARIANTS_REPO = "kernels-community/relu-variants"
HUB_ORGS = {"kernels-community": {"trusted": True}}
HUB_TOKEN = "hf_test_token"
#: Imported before the timer in the rows that model an application which already uses the Hub client
#: (transformers does): then the time left is the loader's own work.
HUB_CLIENT = "huggingface_hub.hf_api"
#: A request huggingface_hub 2.x makes once a day per HF_HOME (telemetry), which the test Hub does not
#: answer (so it recurs in every run): not counted, whatever the package.
NOT_COUNTED = "/api/agent-harnesses"
BEGIN = "<!-- BEGIN GENERATED -->"
END = "<!-- END GENERATED -->"
#: Packages both loaders import; the upstream environment gets the versions installed here.
SHARED_PACKAGES = ("huggingface_hub", "hf-xet", "httpx2", "httpcore2", "h11", "anyio", "idna", "filelock",
                   "fsspec", "packaging", "pyyaml", "tqdm", "typing_extensions", "numpy", "tomlkit")


class BenchError(RuntimeError):
    """The benchmark cannot run (set-up failed); the message says why."""


class WorkerError(BenchError):
    """A measured operation failed; ``summary`` is its last line of error output."""

    def __init__(self, message: str, summary: str):
        super().__init__(message)
        self.summary = summary


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kernels-bench"


# ---------------------------------------------------------------------------
# Worker: runs inside a fresh interpreter of either environment
# ---------------------------------------------------------------------------


def _variant_name(decision: Any) -> str:
    variant = decision.variant
    return variant if isinstance(variant, str) else variant.variant_str


def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement; returns ``import`` and ``call`` seconds and what was checked."""
    import importlib
    from time import perf_counter

    case = spec["case"]
    out: dict[str, Any] = {}
    for name in spec.get("preload", [] if case == "import" else ["torch"]):
        importlib.import_module(name)
    if case == "import":
        start = perf_counter()
        import kernels

        out.update(import_s=perf_counter() - start, call_s=0.0)
        out["torch_imported"] = "torch" in sys.modules
        out["hub_client_imported"] = "huggingface_hub.hf_api" in sys.modules
        out["kernels_version"] = kernels.__version__
        return out

    import torch

    start = perf_counter()
    import kernels

    out["import_s"] = perf_counter() - start
    out["kernels_version"] = kernels.__version__
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()

    def timed(fn: Callable[[], Any]) -> Any:
        begin = perf_counter()
        if profiler is not None:
            profiler.enable()
        try:
            return fn()
        finally:
            if profiler is not None:
                profiler.disable()
            out["call_s"] = perf_counter() - begin

    if case == "get_kernel":
        module = timed(lambda: kernels.get_kernel(spec["repo"], **spec["selector"]))
        x = torch.randn(1031)
        if not torch.equal(module.relu(x), torch.relu(x)):
            raise AssertionError("the loaded relu kernel computes something else than torch.relu")
        out["file"] = module.__file__
    elif case == "variants":
        decisions = timed(lambda: kernels.get_kernel_variants(spec["repo"], **spec["selector"]))
        out["variants"] = len(decisions)
        out["accepted"] = [_variant_name(d) for d in decisions if type(d).__name__ == "VariantAccepted"]
    elif case == "kernelize":
        from torch import nn

        @kernels.use_kernel_forward_from_hub("ReLU")
        class ReLU(nn.Module):
            def forward(self, x: "torch.Tensor") -> "torch.Tensor":
                return torch.relu(x)

        model = nn.Sequential(*[ReLU() for _ in range(spec["layers"])])
        if spec.get("repo"):
            repository = kernels.LayerRepository(spec["repo"], layer_name="ReLU", **spec["selector"])
        else:
            repository = kernels.LocalLayerRepository(repo_path=Path(spec["kernel_dir"]), layer_name="ReLU")
        with kernels.use_kernel_mapping({"ReLU": {"cpu": repository}}):
            timed(lambda: kernels.kernelize(model, mode=kernels.Mode.INFERENCE, device="cpu"))
        replaced = sum(1 for m in model if getattr(m.forward, "__func__", m.forward) is not ReLU.forward)
        if replaced != spec["layers"]:
            raise AssertionError(f"kernelize replaced the forward of {replaced} of {spec['layers']} layers")
        x = torch.randn(1031)
        if not torch.equal(model(x), torch.relu(x)):
            raise AssertionError("the kernelized model computes something else than torch.relu")
        out["replaced"] = replaced
    else:
        raise ValueError(f"unknown case {case!r}")
    if profiler is not None:
        profiler.dump_stats(spec["profile"])
    return out


def _versions_worker() -> dict[str, Any]:
    from importlib import metadata

    found: dict[str, Any] = {"python": platform.python_version(), "executable": sys.executable}
    for name in ("kernels", "torch", *SHARED_PACKAGES):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    import kernels

    found["kernels_file"] = kernels.__file__
    return found


# ---------------------------------------------------------------------------
# The upstream environment
# ---------------------------------------------------------------------------


def _pip_config() -> dict[str, list[str]]:
    """``index-url``, ``extra-index-url`` and ``find-links`` from pip's configuration and environment."""
    result = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    found: dict[str, list[str]] = {"index-url": [], "extra-index-url": [], "find-links": []}
    for line in result.stdout.splitlines():
        match = re.fullmatch(r"[^.]*\.([a-z-]+)='(.*)'", line.strip())
        if match and match[1] in found:
            found[match[1]] += [v for v in match[2].split() if v not in found[match[1]]]
    return found


def _is_local(location: str) -> bool:
    return location.startswith("file:") or (not re.match(r"^[a-z]+://", location) and Path(location).exists())


def _local_torch_sources() -> list[str]:
    """pip arguments that reach only the package sources on this machine's disk."""
    config = _pip_config()
    indexes = [u for u in config["index-url"] + config["extra-index-url"] if _is_local(u)]
    links = [u for u in config["find-links"] if _is_local(u)]
    if not indexes and not links:
        raise BenchError("pip knows no local package source (file:// index or find-links directory) for torch; "
                         "pass --torch-from registry to let pip download it, or --upstream-python")
    args = ["--index-url", indexes[0]] if indexes else ["--no-index"]
    for url in indexes[1:]:
        args += ["--extra-index-url", url]
    for link in links:
        args += ["--find-links", link]
    return args


def _pip(python: Path, *args: str, env: Optional[dict[str, str]] = None) -> None:
    result = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise BenchError(f"pip install {' '.join(args)} failed:\n{tail}")


def _python_versions(python: Path) -> dict[str, Any]:
    result = subprocess.run([str(python), str(SCRIPT), "--versions"], capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"{python} cannot import kernels:\n{result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def ensure_upstream_venv(venv: Path, version: str, ours: dict[str, Any], torch_from: str,
                         log: Callable[[str], None]) -> Path:
    """The Python of a virtual environment with upstream ``kernels==version`` and our Torch; made if needed."""
    python = venv / "bin" / "python"
    wanted = {"kernels": version, "torch": ours["torch"], "python": ours["python"],
              **{name: ours[name] for name in SHARED_PACKAGES if ours.get(name)}}
    marker = venv / "kernels-bench.json"
    if python.exists() and marker.exists():
        try:
            if json.loads(marker.read_text()) == wanted and _python_versions(python)["kernels"] == version:
                return python
        except (ValueError, BenchError, KeyError):
            pass
    if venv.exists():
        if not (venv / "pyvenv.cfg").exists():
            raise BenchError(f"{venv} exists and is not a virtual environment; pass another --upstream-venv")
        shutil.rmtree(venv)
    log(f"creating {venv} (kernels=={version}, torch=={ours['torch']})")
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if torch_from == "local":
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull  # Only the local sources below, no remote index.
        _pip(python, *_local_torch_sources(), f"torch=={ours['torch']}", env=env)
    else:
        _pip(python, f"torch=={ours['torch']}")
    constraints = venv / "constraints.txt"
    constraints.write_text(f"torch=={ours['torch']}\n")
    pins = [f"{name}=={ours[name]}" for name in SHARED_PACKAGES if ours.get(name)]
    _pip(python, "-c", str(constraints), f"kernels=={version}", *pins)
    found = _python_versions(python)
    if found["kernels"] != version or found["torch"] != ours["torch"]:
        raise BenchError(f"{venv} has kernels {found['kernels']} and torch {found['torch']}, "
                         f"expected {version} and {ours['torch']}")
    marker.write_text(json.dumps(wanted, indent=2) + "\n")
    return python


# ---------------------------------------------------------------------------
# Kernels on the test Hub
# ---------------------------------------------------------------------------


def _import_test_helpers() -> None:
    tests = str(REPO_ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)


def build_relu(workdir: Path, log: Callable[[str], None]) -> Path:
    """``examples/relu`` built for this machine with ``kernel-builder build --local``; returns the project."""
    _import_test_helpers()
    from e2e_support import build_example

    env = dict(os.environ)
    env.setdefault("KERNEL_BUILDER_CACHE", str(_cache_root() / "kernel-builder-cache"))
    log("building examples/relu with kernel-builder build --local")
    return build_example("relu", workdir / "build", env, "bench").kernel_dir


def _variant_dirs(kernel_dir: Path) -> list[Path]:
    build = kernel_dir / "build"
    return sorted(p for p in build.iterdir() if p.is_dir() and (p / "metadata.json").is_file())


def prepare_kernel(source: Path, workdir: Path) -> tuple[Path, Path]:
    """A copy of the built project; returns it and its variant directory.

    kernels 0.17.2 refuses a ``metadata.json`` without ``python-depends``;
    our builder writes it (possibly empty), so both loaders take the build as is.
    """
    if not (source / "build").is_dir():
        raise BenchError(f"--kernel-dir {source}: not a built kernel project (no build/ directory); "
                         "build it with `kernel-builder build --local`")
    kernel_dir = workdir / "relu"
    shutil.copytree(source, kernel_dir, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "result"))
    variants = _variant_dirs(kernel_dir)
    if len(variants) != 1:
        raise BenchError(f"{source} must hold exactly one built variant, found {[v.name for v in variants]}")
    metadata = json.loads((variants[0] / "metadata.json").read_text())
    if "python-depends" not in metadata:
        raise BenchError(f"{variants[0]}/metadata.json has no 'python-depends' (kernels 0.17.2 requires it): "
                         "rebuild the kernel with this checkout's kernel-builder")
    return kernel_dir, variants[0]


def variant_names(own: str, count: int) -> list[str]:
    """``count`` variant names: ``own`` and build variants of other Torch versions, computes and CPUs."""
    names = [own]
    for torch_tag in ("213", "212", "211", "210", "29", "28", "27"):
        for compute in ("cpu", "cu126", "cu128", "cu129", "cu130"):
            for arch in ("x86_64", "aarch64"):
                name = f"torch{torch_tag}-cxx11-{compute}-{arch}-linux"
                if name not in names:
                    names.append(name)
    if count > len(names):
        raise BenchError(f"at most {len(names)} variants can be generated")
    return names[:count]


def publish(server: Any, kernel_dir: Path, variant_dir: Path, count: int, env: dict[str, str]) -> dict[str, str]:
    """Publish the build as RELU_REPO v1 and, under ``count`` variant names, as VARIANTS_REPO v1."""
    _import_test_helpers()
    from e2e_support import run_kernel_builder
    from hub_server.helpers import push

    result = run_kernel_builder("upload", str(kernel_dir), "--repo-id", RELU_REPO, "--output-json", env=env)
    sha = next(c["commit"] for c in json.loads(result.stdout)["commits"] if c["branch"] == "v1")
    own = json.loads((variant_dir / "metadata.json").read_text())
    originals = {p.relative_to(variant_dir).as_posix(): p.read_bytes()
                 for p in sorted(variant_dir.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}
    files: dict[str, bytes] = {}
    for name in variant_names(variant_dir.name, count):
        metadata = dict(own)
        if "-cu" in name:
            metadata["backend"] = {"type": "cuda", "archs": ["8.0", "9.0"]}
        for rel, content in originals.items():
            if rel == "metadata.json":
                content = (json.dumps(metadata, indent=2) + "\n").encode()
            files[f"build/{name}/{rel}"] = content
    variants_sha = push(server, VARIANTS_REPO, files, branch="v1", message=f"{count} build variants")
    return {"relu": sha, "variants": variants_sha}


def hub_env(server_url: str, home: Path, cache: Path, offline: bool = False) -> dict[str, str]:
    """The environment of a worker: the test Hub, a private HF_HOME and kernel cache."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HF_", "HUGGING_FACE_", "PYTHON"))
           and key not in ("KERNELS_CACHE", "LOCAL_KERNELS", "DISABLE_TELEMETRY", "DO_NOT_TRACK",
                           "TRANSFORMERS_OFFLINE")}
    # Telemetry stays at its default (on): kernels 0.17.2 with huggingface_hub 2.x sends an invalid
    # User-Agent header (a trailing "; ") when HF_HUB_DISABLE_TELEMETRY is set. Only the local Hub sees it.
    env.update(HF_ENDPOINT=server_url, HF_HOME=str(home), KERNELS_CACHE=str(cache), HF_TOKEN=HUB_TOKEN,
               HF_HUB_DISABLE_PROGRESS_BARS="1")
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------


@dataclass
class Package:
    key: str  # "ours" or "upstream"
    python: Path
    versions: dict[str, Any]


@dataclass
class Case:
    key: str
    label: str
    spec: dict[str, Any]
    #: (package, repetition) -> worker environment
    env: Callable[[Package, int], dict[str, str]]
    expect: Callable[[dict[str, Any]], Optional[str]] = lambda out: None
    note: str = ""


@dataclass
class Sample:
    import_s: float
    call_s: float
    requests: int
    wall_s: float


@dataclass
class Result:
    case: Case
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: package -> why it failed (only upstream may fail: ours failing stops the benchmark)
    errors: dict[str, str] = field(default_factory=dict)
    profile: Optional[str] = None

    def compared(self) -> bool:
        return all(self.samples.get(p) for p in ("ours", "upstream"))

    def median(self, package: str, what: str) -> Optional[float]:
        samples = self.samples.get(package)
        if not samples:
            return None
        if what == "total":
            return statistics.median(s.import_s + s.call_s for s in samples)
        return statistics.median(getattr(s, what) for s in samples)

    def spread(self, package: str, what: str) -> tuple[float, float]:
        values = [s.import_s + s.call_s if what == "total" else getattr(s, what) for s in self.samples[package]]
        return min(values), max(values)


def run_worker(package: Package, spec: dict[str, Any], env: dict[str, str], cwd: Path,
               timeout: float = 600) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    result = subprocess.run([str(package.python), str(SCRIPT), "--worker", json.dumps(spec)], env=env,
                            cwd=cwd, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise WorkerError(f"{package.key} worker {spec['case']} failed ({result.returncode}):\n"
                          f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}", lines[-1] if lines else "")
    return json.loads(result.stdout.strip().splitlines()[-1]), wall


def measure(case: Case, packages: list[Package], repeat: int, server: Any, cwd: Path,
            log: Callable[[str], None]) -> Result:
    result = Result(case, {p.key: [] for p in packages})
    for rep in range(repeat):
        order = packages if rep % 2 == 0 else packages[::-1]
        for package in order:
            if package.key in result.errors:
                continue
            env = case.env(package, rep)
            server.clear_requests()
            try:
                out, wall = run_worker(package, case.spec, env, cwd)
                problem = case.expect(out)
                if problem:
                    raise WorkerError(f"{case.label}: {package.key}: {problem} ({out})", problem)
            except WorkerError as error:
                if package.key == "ours":
                    raise
                log(f"{case.label}: {package.key} fails: {error.summary}")
                result.errors[package.key] = error.summary
                result.samples[package.key] = []
                continue
            seen = [f"{r.method} {r.path}" for r in server.requests()]
            counted = [r for r in seen if not r.endswith(NOT_COUNTED)]
            result.samples[package.key].append(Sample(out["import_s"], out.get("call_s", 0.0), len(counted), wall))
            result.details[package.key] = {**out, "requests": seen}
    summary = ", ".join(f"{p.key} {_ms(result.median(p.key, 'total'))} ms" for p in packages)
    log(f"{case.label}: {summary}")
    return result


def profile_ours(result: Result, ours: Package, cwd: Path, workdir: Path, top: int = 25) -> str:
    """Where one more run of ours spends its time: cProfile (cumulative) or, for imports, ``-X importtime``."""
    import io
    import pstats

    env = result.case.env(ours, 10_000)
    if result.case.spec["case"] == "import":
        command = [str(ours.python), "-X", "importtime", str(SCRIPT), "--worker", json.dumps(result.case.spec)]
        stderr = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=True).stderr
        rows = []
        for line in stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(.*)", line)
            if match:
                rows.append((int(match[2]), int(match[1]), match[3].rstrip()))
        rows.sort(reverse=True)
        return "\n".join(["cumulative us | self us | module"] +
                         [f"{cum:>13} | {own:>7} |{name}" for cum, own, name in rows[:top]])
    stats_file = workdir / f"profile-{result.case.key}.pstats"
    run_worker(ours, {**result.case.spec, "profile": str(stats_file)}, env, cwd)
    stream = io.StringIO()
    pstats.Stats(str(stats_file), stream=stream).strip_dirs().sort_stats("cumulative").print_stats(top)
    lines = [line.rstrip() for line in stream.getvalue().splitlines()]
    start = next((i for i, line in enumerate(lines) if "function calls" in line), 0)
    return "\n".join(lines[start:]).strip()


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


def _ms(value: Optional[float]) -> str:
    return "—" if value is None else f"{1000 * value:.1f}"


def _ratio(ours: Optional[float], upstream: Optional[float]) -> str:
    if ours is None or upstream is None or upstream == 0:
        return "—"
    return f"{ours / upstream:.2f}"


def machine_info(ours: dict[str, Any], upstream: Optional[dict[str, Any]],
                 load: tuple[str, str]) -> list[tuple[str, str]]:
    cpu = cpu_model()
    os_name = os_description()
    usable = usable_cores()
    rows = [
        ("CPU", cpu),
        ("cores", f"{os.cpu_count()} logical, {usable} usable by this process"),
        ("OS", os_name),
        ("Python", ours["python"]),
        ("torch", ours["torch"]),
        ("huggingface_hub", ours.get("huggingface_hub") or "—"),
        ("kernels (ours)", f"{ours['kernels']} (this checkout, {_git_describe()})"),
        ("kernels (upstream)", f"{upstream['kernels']} (package registry)" if upstream else "not measured"),
        ("load average (1 min)", f"{load[0]} before, {load[1]} after the measurements"),
    ]
    return rows


def _load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def _shorten(request: str, shas: dict[str, str]) -> str:
    for name, sha in shas.items():
        request = request.replace(sha, f"<{name} sha>")
    return request


def _git_describe() -> str:
    result = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True)
    sha = result.stdout.strip() or "unknown commit"
    dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "python/src"],
                           capture_output=True, text=True).stdout.strip()
    return f"commit {sha}{', python/src modified' if dirty else ''}"


def render(results: list[Result], machine: list[tuple[str, str]], meta: dict[str, Any]) -> str:
    packages = meta["packages"]
    both = "upstream" in packages
    lines = [
        f"Generated {meta['date']} by:",
        "",
        "```sh",
        meta["command"],
        "```",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {key} | {value} |" for key, value in machine],
        "",
        f"Each number is the median of {meta['repeat']} runs, each in a fresh interpreter; the two packages "
        "alternate (ours first in even repetitions, upstream first in odd ones). Both load the same build of "
        "`examples/relu` (made with `kernel-builder build --local`) from the same test Hub "
        "(`tests/hub_server`, on 127.0.0.1), with the same Torch and `huggingface_hub`. Times are in "
        "milliseconds.",
        "",
        "## Results",
        "",
        "*time* is `import kernels` plus the operation, measured inside the process with Torch already "
        "imported (except in the first row): both packages import `huggingface_hub` lazily or eagerly at "
        "different points, so only the sum compares like with like. The operation alone is in the next table.",
        "",
    ]
    if both:
        lines += ["| # | row | ours | upstream | ours / upstream | requests ours | requests upstream |",
                  "|---|---|---:|---:|---:|---:|---:|"]
    else:
        lines += ["| # | row | ours | requests |", "|---|---|---:|---:|"]
    for number, result in enumerate(results, 1):
        label = result.case.label + (f" ({result.case.note})" if result.case.note else "")
        ours_t = result.median("ours", "total")
        ours_r = result.median("ours", "requests")
        if both:
            up_t = result.median("upstream", "total")
            up_r = result.median("upstream", "requests")
            failed = "upstream" in result.errors
            lines.append(f"| {number} | {label} | {_ms(ours_t)} | {'fails' if failed else _ms(up_t)} | "
                         f"{_ratio(ours_t, up_t)} | {ours_r:g} | {'—' if up_r is None else f'{up_r:g}'} |")
        else:
            lines.append(f"| {number} | {label} | {_ms(ours_t)} | {ours_r:g} |")
    lines += ["", "### The operation alone, and the spread", "",
              "*call* is the operation without `import kernels`; min–max is over all runs of the *time* above.", ""]
    if both:
        lines += ["| # | row | call ours | call upstream | ours / upstream | time ours min–max | "
                  "time upstream min–max |", "|---|---|---:|---:|---:|---:|---:|"]
    else:
        lines += ["| # | row | call ours | time ours min–max |", "|---|---|---:|---:|"]
    for number, result in enumerate(results, 1):
        ours_c = result.median("ours", "call_s")
        low, high = result.spread("ours", "total")
        row = f"| {number} | {result.case.label} | {_ms(ours_c)} | "
        if both and result.compared():
            up_c = result.median("upstream", "call_s")
            up_low, up_high = result.spread("upstream", "total")
            row += f"{_ms(up_c)} | {_ratio(ours_c, up_c)} | {_ms(low)}–{_ms(high)} | {_ms(up_low)}–{_ms(up_high)} |"
        elif both:
            row += f"fails | — | {_ms(low)}–{_ms(high)} | — |"
        else:
            row += f"{_ms(low)}–{_ms(high)} |"
        lines.append(row)
    lines += ["", "## Requests", "",
              "What the test Hub saw during the last run of each row (`/api/agent-harnesses`, "
              "`huggingface_hub`'s daily telemetry fetch, is listed but not counted above):", ""]
    for number, result in enumerate(results, 1):
        seen = {key: out.get("requests", []) for key, out in result.details.items()}
        if not any(seen.values()):
            continue
        lines += [f"<details><summary>{number}. {result.case.label}</summary>", ""]
        for key in packages:
            if key in seen:
                shown = [_shorten(r, meta["shas"]) for r in seen[key]] or ["(no request)"]
                lines += [f"{key}:", "", "```", *shown, "```", ""]
        lines += ["</details>", ""]
    lines += ["", "## What each row does", ""]
    for number, result in enumerate(results, 1):
        lines.append(f"{number}. **{result.case.label}**: {meta['descriptions'][result.case.key]}")
    failures = [(n, r) for n, r in enumerate(results, 1) if "upstream" in r.errors]
    if failures:
        lines += ["", "## Rows where upstream fails", ""]
        for number, result in failures:
            lines += [f"Row {number} ({result.case.label}):", "", "```", result.errors["upstream"], "```", ""]
    if both:
        slower = [r for r in results if r.compared() and r.median("ours", "total") > r.median("upstream", "total")]
        lines += ["", "## Rows where ours is slower", ""]
        if not slower:
            lines.append("None: ours is at most as slow as upstream on every row.")
        for result in slower:
            lines += [f"### {result.case.label}", ""]
            if result.profile:
                lines += ["Profile of one more run of ours (cProfile of the operation, by cumulative time; `-X importtime` for imports):", "",
                          "```", result.profile, "```", ""]
    lines += ["", "## Set-up notes", "", *[f"- {note}" for note in meta["notes"]]]
    return "\n".join(lines).rstrip() + "\n"


def write_report(path: Path, generated: str) -> None:
    block = f"{BEGIN}\n{generated}{END}\n"
    if path.exists():
        text = path.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1].lstrip("\n")
            path.write_text(head + block + ("\n" + tail if tail else ""))
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Loader performance: ours against upstream kernels\n\n" + block)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


DESCRIPTIONS = {
    "import": "`import kernels` in a fresh interpreter, nothing imported before (upstream imports "
              "`huggingface_hub` here, ours defers it).",
    "import_torch": "`import kernels` after `import torch`.",
    "cold": "`get_kernel(\"kernels-community/relu\", version=1)` with an empty `KERNELS_CACHE` and `HF_HOME` "
            "in every run: resolve `v1`, list the files, check the publisher, download the one matching "
            "variant and import it (then check `relu` against `torch.relu`).",
    "warm": "The same call with the cache filled by an earlier run (same `KERNELS_CACHE` and `HF_HOME`); "
            "`v1` is a branch, so it is still resolved online.",
    "warm_offline": "The same warm call with `HF_HUB_OFFLINE=1`.",
    "warm_offline_sha": "Warm `get_kernel(..., revision=<commit sha of v1>)` with `HF_HUB_OFFLINE=1`.",
    "warm_sha": "Warm `get_kernel(..., revision=<commit sha of v1>)`. A commit never changes, so the "
                "cached files are enough: the *requests* columns are item 6 of the task (target 0).",
    "cold_hub": "Row 3 with `huggingface_hub.hf_api` (and Torch) imported before the timer, as in an "
                "application that already uses the Hub client (transformers does): what is left is the "
                "loaders' own work.",
    "warm_sha_hub": "Row 7 with `huggingface_hub.hf_api` imported before the timer.",
    "variants": "`get_kernel_variants(\"kernels-community/relu-variants\", version=1)` on a repository with "
                "40 build variants (the relu build copied under 40 names: this machine's variant, then CPU and "
                "CUDA 12.6–13.0 builds for x86_64 and aarch64, newest Torch first); fresh cache in every run; "
                "every variant must be judged and only this machine's accepted.",
    "kernelize_local": "`kernelize(model, mode=Mode.INFERENCE, device=\"cpu\")` of an `nn.Sequential` of "
                       "1,000 `@use_kernel_forward_from_hub(\"ReLU\")` layers mapped to "
                       "`LocalLayerRepository(<relu build>, layer_name=\"ReLU\")` (loads the kernel once and "
                       "replaces 1,000 forwards; the output is checked).",
    "kernelize_hub": "The same with `LayerRepository(\"kernels-community/relu\", layer_name=\"ReLU\", version=1)` "
                     "and a warm cache.",
}


def build_cases(kernel_dir: Path, shas: dict[str, str], variant: str, count: int, layers: int, url: str,
                workdir: Path) -> list[Case]:
    tags: set[str] = set()

    def fresh(tag: str) -> Callable[[Package, int], dict[str, str]]:
        """Empty HF_HOME and cache directories, new for every run (``tag`` names the row's own)."""
        assert tag not in tags, f"rows share the cache directories {tag!r}"
        tags.add(tag)

        def env(package: Package, rep: int) -> dict[str, str]:
            base = workdir / tag / package.key / str(rep)
            return hub_env(url, base / "hf-home", base / "kernels-cache")
        return env

    def warm(offline: bool = False) -> Callable[[Package, int], dict[str, str]]:
        def env(package: Package, rep: int) -> dict[str, str]:
            base = workdir / "warm" / package.key
            return hub_env(url, base / "hf-home", base / "kernels-cache", offline)
        return env

    def loads(sha: str) -> Callable[[dict[str, Any]], Optional[str]]:
        def check(out: dict[str, Any]) -> Optional[str]:
            if f"/{sha}/build/{variant}/" not in out.get("file", ""):
                return f"loaded {out.get('file')} instead of build/{variant} of commit {sha}"
            return None
        return check

    def judged(out: dict[str, Any]) -> Optional[str]:
        if out["variants"] != count or out["accepted"][:1] != [variant]:
            return f"expected {count} variants with {variant} accepted first"
        return None

    relu = {"case": "get_kernel", "repo": RELU_REPO, "selector": {"version": 1}}
    by_sha = {**relu, "selector": {"revision": shas["relu"]}}
    return [
        Case("import", "`import kernels`", {"case": "import"}, fresh("import")),
        Case("import_torch", "`import kernels`, Torch imported", {"case": "import", "preload": ["torch"]},
             fresh("import_torch")),
        Case("cold", "cold `get_kernel`", relu, fresh("cold"), loads(shas["relu"]), "download + import"),
        Case("warm", "warm `get_kernel`", relu, warm(), loads(shas["relu"]), "`version=1`"),
        Case("warm_offline", "warm `get_kernel`, `HF_HUB_OFFLINE=1`", relu, warm(True), loads(shas["relu"]),
             "`version=1`"),
        Case("warm_offline_sha", "warm `get_kernel` by sha, `HF_HUB_OFFLINE=1`", by_sha, warm(True),
             loads(shas["relu"])),
        Case("warm_sha", "warm `get_kernel` by sha", by_sha, warm(), loads(shas["relu"])),
        Case("cold_hub", "cold `get_kernel`, `huggingface_hub` imported first",
             {**relu, "preload": ["torch", HUB_CLIENT]}, fresh("cold_hub"), loads(shas["relu"])),
        Case("warm_sha_hub", "warm `get_kernel` by sha, `huggingface_hub` imported first",
             {**by_sha, "preload": ["torch", HUB_CLIENT]}, warm(), loads(shas["relu"])),
        Case("variants", f"`get_kernel_variants`, {count} variants",
             {"case": "variants", "repo": VARIANTS_REPO, "selector": {"version": 1}}, fresh("variants"), judged),
        Case("kernelize_local", f"`kernelize`, {layers:,} layers, local",
             {"case": "kernelize", "kernel_dir": str(kernel_dir), "layers": layers}, fresh("kernelize")),
        Case("kernelize_hub", f"`kernelize`, {layers:,} layers, Hub (warm)",
             {"case": "kernelize", "repo": RELU_REPO, "selector": {"version": 1}, "layers": layers}, warm()),
    ]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, help="write the Markdown report here")
    parser.add_argument("--json", type=Path, help="write the raw measurements here")
    parser.add_argument("--repeat", type=int, default=11, help="runs per row and package (default 11)")
    parser.add_argument("--quick", action="store_true", help="one run per row (smoke test)")
    parser.add_argument("--ours-only", action="store_true", help="measure only this checkout's kernels")
    parser.add_argument("--upstream-version", default=UPSTREAM_VERSION)
    parser.add_argument("--upstream-venv", type=Path, default=_cache_root() / "upstream-venv",
                        help="virtual environment for upstream kernels (made or reused)")
    parser.add_argument("--upstream-python", type=Path,
                        help="an interpreter that already has upstream kernels and torch (skips the venv)")
    parser.add_argument("--torch-from", choices=("local", "registry"), default="local",
                        help="where the upstream environment gets torch: only this machine's local package "
                             "sources (default) or whatever pip is configured to use")
    parser.add_argument("--kernel-dir", type=Path, help="a built examples/relu project (skips the build)")
    parser.add_argument("--variants", type=int, default=40)
    parser.add_argument("--layers", type=int, default=1000)
    parser.add_argument("--no-profile", action="store_true", help="do not profile rows where ours is slower")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--versions", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.variants < 1 or args.layers < 1:
        parser.error("--repeat, --variants and --layers must be at least 1")

    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return 0
    if args.versions:
        print(json.dumps(_versions_worker()))
        return 0

    def log(message: str) -> None:
        print(f"[loader-speed] {message}", file=sys.stderr, flush=True)

    repeat = 1 if args.quick else args.repeat
    ours = Package("ours", Path(sys.executable), _python_versions(Path(sys.executable)))
    if not Path(ours.versions["kernels_file"]).resolve().is_relative_to(REPO_ROOT / "python" / "src"):
        raise BenchError(f"{sys.executable} imports kernels from {ours.versions['kernels_file']}, not from "
                         f"{REPO_ROOT / 'python' / 'src'}: run the script with this checkout's environment")
    packages = [ours]
    if not args.ours_only:
        if args.upstream_python:
            upstream_python = args.upstream_python
        else:
            upstream_python = ensure_upstream_venv(args.upstream_venv, args.upstream_version, ours.versions,
                                                   args.torch_from, log)
        upstream = Package("upstream", upstream_python, _python_versions(upstream_python))
        if upstream.versions["torch"] != ours.versions["torch"]:
            raise BenchError(f"upstream has torch {upstream.versions['torch']}, ours {ours.versions['torch']}")
        packages.append(upstream)

    _import_test_helpers()
    from hub_server import HubServer

    workdir = Path(tempfile.mkdtemp(prefix="kernels-loader-bench-"))
    load_before = _load_average()
    try:
        source = args.kernel_dir or build_relu(workdir, log)
        kernel_dir, variant_dir = prepare_kernel(source, workdir)
        with HubServer(workdir / "hub", orgs=HUB_ORGS) as server:
            publish_env = hub_env(server.url, workdir / "publisher-home", workdir / "publisher-cache")
            shas = publish(server, kernel_dir, variant_dir, args.variants, publish_env)
            log(f"published {RELU_REPO}@{shas['relu'][:12]} and {VARIANTS_REPO} ({args.variants} variants) "
                f"on {server.url}")
            cases = build_cases(kernel_dir, shas, variant_dir.name, args.variants, args.layers, server.url,
                                workdir / "runs")
            by_key = {case.key: case for case in cases}
            for package in packages:  # Fill the warm caches (and check that the cold path works at all).
                server.clear_requests()
                run_worker(package, by_key["cold"].spec, by_key["warm"].env(package, 0), workdir)
                if not server.requests():
                    raise BenchError(f"{package.key}: the first load made no request to the test Hub")
            results = [measure(case, packages, repeat, server, workdir, log) for case in cases]
            if len(packages) == 2 and not args.no_profile:
                for result in results:
                    if result.compared() and result.median("ours", "total") > result.median("upstream", "total"):
                        log(f"profiling ours: {result.case.label}")
                        result.profile = profile_ours(result, ours, workdir, workdir)
    finally:
        if args.keep:
            log(f"working directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    command = "python bench/loader_speed.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    notes = [
        f"The upstream environment ({'given' if args.upstream_python else args.upstream_venv}) has kernels "
        f"{packages[-1].versions['kernels']} from the package registry; Torch {ours.versions['torch']} came "
        f"from {'the local package sources only' if args.torch_from == 'local' else 'pip'}, and the packages "
        "both loaders share have the versions of this checkout's environment." if len(packages) == 2 else
        "Upstream was not measured (`--ours-only`).",
        "kernels 0.17.2 refuses a `metadata.json` without a `python-depends` field; `kernel-builder` writes "
        "it (an empty list here), so both loaders load the same build as it is.",
        "`HF_HUB_DISABLE_TELEMETRY` is left unset: kernels 0.17.2 with `huggingface_hub` 2.x then sends an "
        "invalid `User-Agent` header (ending in `; `), which the HTTP client rejects. Only the local Hub "
        "sees the header.",
        "Requests are counted by the test Hub for the measured process as a whole (median over runs).",
    ]
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "command": command,
            "repeat": repeat, "packages": [p.key for p in packages], "descriptions": DESCRIPTIONS, "notes": notes,
            "shas": shas}
    machine = machine_info(ours.versions, packages[1].versions if len(packages) == 2 else None,
                           (load_before, _load_average()))
    report = render(results, machine, meta)
    if args.output:
        write_report(args.output, report)
        log(f"wrote {args.output}")
    else:
        print(report)
    if args.json:
        data = {
            "meta": {k: v for k, v in meta.items() if k != "descriptions"},
            "machine": dict(machine),
            "versions": {p.key: p.versions for p in packages},
            "rows": [{
                "key": r.case.key, "label": r.case.label,
                "samples": {k: [vars(s) for s in v] for k, v in r.samples.items()},
                "median_total_s": {p.key: r.median(p.key, "total") for p in packages},
                "median_call_s": {p.key: r.median(p.key, "call_s") for p in packages},
                "median_requests": {p.key: r.median(p.key, "requests") for p in packages},
                "details": r.details,
                "errors": r.errors,
            } for r in results],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"loader_speed: {error}", file=sys.stderr)
        sys.exit(2)
