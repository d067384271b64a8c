"""Find, load and run benchmark scripts; the engine behind ``kernels benchmark``."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import random
import re
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional, TextIO

from ..backends import registry
from . import Benchmark
from .report import (
    ATOL,
    RTOL,
    BenchmarkReport,
    KernelInfo,
    ScriptInfo,
    WorkloadResult,
    collect_machine_info,
    combined_sha256,
    format_header,
    format_report,
    to_json,
)
from .stats import compare, summarize

DEFAULT_WARMUP = 10
DEFAULT_ITERATIONS = 100

_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
_VERSION = re.compile(r"v(\d+)")


class BenchmarkError(Exception):
    """A benchmark could not run, or the kernel's output did not match the reference.

    ``report`` is set when the run finished (with failed output checks).
    """

    def __init__(self, message: str, report: Optional[BenchmarkReport] = None) -> None:
        super().__init__(message)
        self.report = report


# ---------------------------------------------------------------------------
# What to benchmark
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchmarkTarget:
    """A local kernel project, or a Hub repository at a revision."""

    source: str  # "local" or "hub"
    path: Optional[Path] = None
    repo_id: Optional[str] = None
    #: Hub revision to fetch: ``v<version>`` or the branch.
    revision: Optional[str] = None
    version: Optional[int] = None
    branch: Optional[str] = None

    @property
    def label(self) -> str:
        return str(self.path) if self.source == "local" else f"{self.repo_id}@{self.revision}"


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~", "\\")) or spec.endswith(("/", "\\")) or spec.count("/") > 1


def parse_target(spec: str, version: Optional[int] = None, branch: Optional[str] = None) -> BenchmarkTarget:
    """Interpret ``kernels benchmark``'s argument and revision options.

    An existing directory is a local kernel project. Anything else is a Hub
    repository id, optionally followed by ``@v<N>`` (a version, i.e. the
    branch ``v<N>``) or ``@<branch>``; exactly one revision must be given,
    either that way or with ``version``/``branch``.
    """
    if version is not None and branch is not None:
        raise BenchmarkError("pass either --version or --branch, not both")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
        raise BenchmarkError(f"--version must be a non-negative integer, got {version!r}")
    if branch is not None and not branch.strip():
        raise BenchmarkError("--branch must not be empty")
    if not spec:
        raise BenchmarkError("expected a kernel directory or a Hub repository id, got ''")

    path = Path(spec).expanduser()
    if path.is_dir():
        if version is not None or branch is not None:
            flag = "--version" if version is not None else "--branch"
            raise BenchmarkError(
                f"{spec} is a local directory: {flag} only selects a revision of a Hub repository"
            )
        return BenchmarkTarget("local", path=path.resolve())
    if _looks_like_path(spec) and "@" not in spec:
        raise BenchmarkError(f"kernel directory {spec} does not exist")

    repo_id, at, rev = spec.partition("@")
    if not _REPO_ID.fullmatch(repo_id):
        raise BenchmarkError(
            f"expected an existing kernel directory or a Hub repository id like 'org/name', got {spec!r}"
        )
    if at:
        if not rev:
            raise BenchmarkError(f"{spec!r}: nothing after '@'; use {repo_id}@v<N> or {repo_id}@<branch>")
        if version is not None or branch is not None:
            flag = "--version" if version is not None else "--branch"
            raise BenchmarkError(f"give the revision either as @{rev} or with {flag}, not both")
        match = _VERSION.fullmatch(rev)
        if match:
            version = int(match.group(1))
        elif rev.isdigit():
            raise BenchmarkError(f"{spec!r}: write the version as {repo_id}@v{rev}")
        else:
            branch = rev
    if version is None and branch is None:
        raise BenchmarkError(
            f"say which revision of {repo_id} to benchmark: --version N, --branch NAME, "
            f"{repo_id}@vN or {repo_id}@NAME"
        )
    revision = f"v{version}" if version is not None else branch
    return BenchmarkTarget("hub", repo_id=repo_id, revision=revision, version=version, branch=branch)


# ---------------------------------------------------------------------------
# Getting the scripts and the kernel
# ---------------------------------------------------------------------------


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _download_benchmarks(target: BenchmarkTarget) -> tuple[Path, str]:
    """Fetch ``benchmarks/`` of a Hub repository; returns the snapshot directory and its commit sha."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from .. import hub

    repo_types = getattr(hub, "REPO_TYPES", ("kernel", "model"))
    cache_dir = hub.cache_dir() if hasattr(hub, "cache_dir") else None
    assert target.repo_id is not None and target.revision is not None
    for repo_type in repo_types:
        try:
            folder = snapshot_download(
                target.repo_id,
                repo_type=repo_type,
                revision=target.revision,
                allow_patterns=["benchmarks/*"],
                cache_dir=cache_dir,
            )
        except RepositoryNotFoundError:
            continue
        except RevisionNotFoundError:
            what = f"version {target.version} (no branch v{target.version})" if target.version is not None \
                else f"revision {target.revision!r}"
            raise BenchmarkError(f"{target.repo_id} has no {what}") from None
        except LocalEntryNotFoundError as e:
            raise BenchmarkError(f"{target.label} is not in the cache and the Hub is offline: {_one_line(e)}") from None
        except (HfHubHTTPError, OSError, ValueError) as e:
            raise BenchmarkError(f"downloading the benchmarks of {target.label} failed: {_one_line(e)}") from None
        snapshot = Path(str(folder))
        return snapshot, snapshot.name
    raise BenchmarkError(
        f"kernel repository {target.repo_id!r} not found (it does not exist, or it is private "
        "and you are not logged in)"
    )


def find_scripts(benchmarks_dir: Path, label: str) -> list[Path]:
    """``benchmarks/benchmark*.py`` in name order; clear errors when there are none."""
    if not benchmarks_dir.is_dir():
        raise BenchmarkError(
            f"{label} has no benchmarks/ directory: benchmark scripts go in benchmarks/benchmark*.py"
        )
    scripts = sorted(p for p in benchmarks_dir.glob("benchmark*.py") if p.is_file())
    if not scripts:
        raise BenchmarkError(f"{label} has no benchmark scripts: benchmarks/ contains no benchmark*.py files")
    return scripts


def _git_state(path: Path) -> tuple[Optional[str], Optional[bool]]:
    """``(HEAD sha, tracked files modified)`` of the git checkout holding ``path``, or ``(None, None)``."""

    def git(*args: str) -> Optional[str]:
        try:
            result = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout if result.returncode == 0 else None

    head = git("rev-parse", "--verify", "HEAD")
    if head is None or not re.fullmatch(r"[0-9a-f]{40,64}", head.strip()):
        return None, None
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    return head.strip(), (bool(status.strip()) if status is not None else None)


def _loaded_record(module: ModuleType) -> Any:
    from ..loader import get_loaded_kernels

    return next((k for k in get_loaded_kernels() if k.module is module), None)


def _kernel_info(target: BenchmarkTarget, module: ModuleType, hub_sha: Optional[str]) -> KernelInfo:
    record = _loaded_record(module)
    metadata = record.metadata if record is not None else None
    module_file = getattr(module, "__file__", None)
    variant = Path(module_file).parent.name if module_file else None
    if target.source == "local":
        assert target.path is not None
        sha, dirty = _git_state(target.path)
        return KernelInfo("local", metadata.name if metadata else None, sha, dirty,
                          metadata.id if metadata else None, variant, path=str(target.path))
    repo_info = record.repo_info if record is not None else None
    sha = repo_info.revision if repo_info is not None else hub_sha
    return KernelInfo("hub", metadata.name if metadata else None, sha, None, metadata.id if metadata else None,
                      variant, repo_id=target.repo_id, revision=target.revision)


def _kernel_device(module: ModuleType) -> str:
    record = _loaded_record(module)
    if record is not None:
        backend = record.metadata.backend.type
    else:
        from ..environment import current_environment

        backend = current_environment().backend
    known = registry()
    return known.get(backend).torch_device if backend in known else backend


# ---------------------------------------------------------------------------
# Discovering workloads
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Script:
    path: Path
    rel: str
    sha256: str
    classes: tuple[type, ...]


@dataclass(frozen=True)
class _Workload:
    script: _Script
    cls: type
    name: str

    @property
    def label(self) -> str:
        return f"{self.cls.__name__}.{self.name}"

    @property
    def has_verify(self) -> bool:
        return callable(getattr(self.cls, f"verify_{self.name}", None))


def workload_names(cls: type) -> list[str]:
    """Names of the ``benchmark_<name>`` methods of ``cls``, base classes' first, in definition order."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for attr, value in vars(klass).items():
            if attr.startswith("benchmark_") and len(attr) > len("benchmark_") and attr[len("benchmark_"):] not in names:
                if callable(getattr(cls, attr, None)):
                    names.append(attr[len("benchmark_"):])
    return names


def _where(error: BaseException, directory: Path) -> str:
    """`` (benchmarks/x.py:12)``: the innermost frame of ``error`` in the benchmark scripts."""
    if isinstance(error, SyntaxError) and error.filename:
        return f" ({Path(error.filename).name}:{error.lineno})"
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        try:
            Path(frame.filename).resolve().relative_to(directory.resolve())
        except ValueError:
            continue
        return f" ({Path(frame.filename).name}:{frame.lineno})"
    return ""


def _import_script(path: Path, root: Path) -> _Script:
    data = path.read_bytes()
    rel = path.relative_to(root).as_posix()
    digest = hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:12]
    name = f"_kernels_benchmark_{digest}_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BenchmarkError(f"cannot import {rel}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - user code
        del sys.modules[name]
        raise BenchmarkError(f"importing {rel} failed: {type(e).__name__}: {_one_line(e)}{_where(e, path.parent)}") from e
    classes = tuple(
        obj for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Benchmark) and obj is not Benchmark and obj.__module__ == name
    )
    if not classes:
        raise BenchmarkError(
            f"{rel} defines no Benchmark subclass: define a class deriving from kernels.benchmark.Benchmark"
        )
    if not any(workload_names(cls) for cls in classes):
        listed = ", ".join(cls.__name__ for cls in classes)
        raise BenchmarkError(f"{rel}: {listed} define no benchmark_<workload> methods")
    return _Script(path, rel, hashlib.sha256(data).hexdigest(), classes)


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def _synchronizer(device: str) -> Callable[[], None]:
    import torch

    module = {"cuda": getattr(torch, "cuda", None), "mps": getattr(torch, "mps", None),
              "xpu": getattr(torch, "xpu", None), "npu": getattr(torch, "npu", None)}.get(device)
    sync = getattr(module, "synchronize", None) if module is not None else None
    return sync if sync is not None else (lambda: None)


class _Timer:
    """Times one call in milliseconds, waiting for the device to finish the work it queued.

    CUDA (and ROCm) use ``torch.cuda.Event`` pairs around the call and wait on
    the end event; other devices use ``time.perf_counter`` with a device
    synchronisation before starting and before stopping the clock.
    """

    def __init__(self, device: str) -> None:
        import torch

        self.sync = _synchronizer(device)
        self.events = None
        if device == "cuda":
            self.events = (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))

    def __call__(self, fn: Callable[[], Any]) -> tuple[float, Any]:
        if self.events is not None:
            start, end = self.events
            start.record()
            value = fn()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end)), value
        self.sync()
        begin = time.perf_counter()
        value = fn()
        self.sync()
        return (time.perf_counter() - begin) * 1000.0, value


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


def _seed(seed: Optional[int]) -> None:
    if seed is None:
        return
    import torch

    random.seed(seed)
    torch.manual_seed(seed)  # Seeds every device's generator too.
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)


def _clone(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (tuple, list)):
        return type(value)(_clone(v) for v in value)
    return value


def output_mismatch(out: Any, expected: Any, label: str = "output") -> Optional[str]:
    """Why ``out`` does not match ``expected`` (``torch.allclose(atol=1e-2)``), or ``None`` when it does.

    Tensors must have equal shapes; they are compared in their promoted dtype
    on ``out``'s device, NaNs matching NaNs. Tuples and lists are compared
    element by element.
    """
    import torch

    if isinstance(expected, (tuple, list)):
        if not isinstance(out, (tuple, list)) or len(out) != len(expected):
            return f"{label} is {type(out).__name__}, the reference a {type(expected).__name__} of {len(expected)}"
        for i, (o, e) in enumerate(zip(out, expected)):
            reason = output_mismatch(o, e, f"{label}[{i}]")
            if reason is not None:
                return reason
        return None
    if not isinstance(expected, torch.Tensor):
        raise BenchmarkError(f"the reference is a {type(expected).__name__}, expected a tensor")
    if not isinstance(out, torch.Tensor):
        return f"{label} is {type(out).__name__}, expected a tensor"
    if tuple(out.shape) != tuple(expected.shape):
        return f"{label} has shape {tuple(out.shape)}, the reference {tuple(expected.shape)}"
    dtype = torch.promote_types(out.dtype, expected.dtype)
    if not (dtype.is_floating_point or dtype.is_complex):
        dtype = torch.float64
    actual, reference = out.to(dtype), expected.to(device=out.device, dtype=dtype)
    close = torch.isclose(actual, reference, rtol=RTOL, atol=ATOL, equal_nan=True)
    if bool(close.all()):
        return None
    bad = int((~close).sum())
    worst = float((actual - reference)[~close].abs().nan_to_num(nan=float("inf")).max())
    return (f"{bad} of {close.numel()} elements of {label} differ from the reference "
            f"(max abs diff {worst:.4g}; atol={ATOL}, rtol={RTOL})")


class _Progress:
    def __init__(self, total: int, enabled: bool, stream: TextIO) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="call", file=stream, leave=False, dynamic_ncols=True)

    def describe(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(text)

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _calls(w: _Workload, warmup: int, iterations: int) -> int:
    return (warmup + iterations) + ((1 + warmup + iterations) if w.has_verify else 0)


def _run_workload(w: _Workload, kernel: ModuleType, device: str, warmup: int, iterations: int,
                  timer: _Timer, progress: _Progress) -> WorkloadResult:
    progress.describe(w.label)
    phase = "__init__"
    directory = w.script.path.parent

    def fail(error: Exception) -> BenchmarkError:
        return BenchmarkError(
            f"{w.label}: {phase}() raised {type(error).__name__}: {_one_line(error)}{_where(error, directory)}"
        )

    def measure(fn: Callable[[], Any]) -> list[float]:
        for _ in range(warmup):
            timer(fn)
            progress.update()
        samples = []
        for _ in range(iterations):
            samples.append(timer(fn)[0])
            progress.update()
        return samples

    try:
        instance = w.cls()
        instance.kernel = kernel
        instance.device = device
        _seed(getattr(instance, "seed", None))
        setup = getattr(instance, f"setup_{w.name}", None)
        phase = f"setup_{w.name}" if callable(setup) else "setup"
        (setup if callable(setup) else instance.setup)()
        bench = getattr(instance, f"benchmark_{w.name}")
        reference = comparison = None
        match: Optional[bool] = None
        if w.has_verify:
            verify = getattr(instance, f"verify_{w.name}")
            phase = f"benchmark_{w.name}"
            timer(bench)
            progress.update()
            if instance.out is None:
                raise BenchmarkError(
                    f"{w.label}: self.out is not set; setup_{w.name}()/benchmark_{w.name}() must store the "
                    f"output that verify_{w.name}() is compared with in self.out"
                )
            out = _clone(instance.out)
            phase = f"verify_{w.name}"
            _, expected = timer(verify)
            try:
                mismatch = output_mismatch(out, expected, "self.out")
            except BenchmarkError as e:
                raise BenchmarkError(f"{w.label}: verify_{w.name}() returned {e}") from None
            if mismatch is not None:
                progress.update(_calls(w, warmup, iterations) - 1)
                return WorkloadResult(w.cls.__name__, w.name, w.script.rel, None, match=False, mismatch=mismatch)
            match = True
            reference = summarize(measure(verify))
        phase = f"benchmark_{w.name}"
        timing = summarize(measure(bench))
    except BenchmarkError:
        raise
    except Exception as e:  # noqa: BLE001 - user code
        raise fail(e) from e
    if reference is not None:
        comparison = compare(timing, reference)
    return WorkloadResult(w.cls.__name__, w.name, w.script.rel, timing, reference, comparison, match)


def _load_kernel(target: BenchmarkTarget, hub_sha: Optional[str], trust_remote_code: bool) -> ModuleType:
    from .. import get_kernel, get_local_kernel, hub

    try:
        if target.source == "local":
            assert target.path is not None
            if not (target.path / "build").is_dir() and (target.path / "build.toml").is_file():
                raise BenchmarkError(
                    f"{target.path} has no build/ directory: build the kernel first "
                    f"(kernel-builder build {target.path})"
                )
            return get_local_kernel(target.path)
        return get_kernel(target.repo_id, revision=hub_sha, trust_remote_code=trust_remote_code)
    except BenchmarkError:
        raise
    except Exception as e:  # noqa: BLE001 - reported as one line
        message = f"loading the kernel {target.label} failed: {_one_line(e)}"
        untrusted = getattr(hub, "UntrustedPublisherError", None)
        if untrusted is not None and isinstance(e, untrusted):
            message += " (kernels benchmark --trust-remote-code; its benchmark scripts run as code too)"
        raise BenchmarkError(message) from e


def run_benchmark(
    target: str,
    *,
    version: Optional[int] = None,
    branch: Optional[str] = None,
    warmup: int = DEFAULT_WARMUP,
    iterations: int = DEFAULT_ITERATIONS,
    output: Optional[Path] = None,
    progress: Optional[bool] = None,
    trust_remote_code: bool = False,
    stdout: Optional[TextIO] = None,
    stderr: Optional[TextIO] = None,
) -> BenchmarkReport:
    """Run the benchmark scripts of a local kernel project or a Hub kernel.

    The report (machine header, table, confidence intervals, ids) is written
    to ``stdout``; status lines and the progress bar (``progress=None``: only
    when ``stderr`` is a terminal) go to ``stderr``. With ``output`` the JSON
    payload is written there. Raises :class:`BenchmarkError` for anything
    that stops the run and, after reporting, when an output check failed.
    """
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    if warmup < 0:
        raise BenchmarkError(f"--warmup must be >= 0, got {warmup}")
    if iterations < 1:
        raise BenchmarkError(f"--iterations must be >= 1, got {iterations}")
    parsed = parse_target(target, version, branch)

    hub_sha: Optional[str] = None
    if parsed.source == "local":
        assert parsed.path is not None
        root = parsed.path
    else:
        print(f"Downloading {parsed.label} benchmarks...", file=stderr)
        root, hub_sha = _download_benchmarks(parsed)
    script_paths = find_scripts(root / "benchmarks", parsed.label)

    print(f"Loading kernel {parsed.label}...", file=stderr)
    kernel = _load_kernel(parsed, hub_sha, trust_remote_code)
    device = _kernel_device(kernel)
    kernel_info = _kernel_info(parsed, kernel, hub_sha)

    benchmarks_dir = str(root / "benchmarks")
    modules_before = set(sys.modules)
    # Scripts may import helper modules that sit next to them.
    sys.path.insert(0, benchmarks_dir)
    try:
        scripts = [_import_script(path, root) for path in script_paths]
        workloads = [_Workload(s, cls, name) for s in scripts for cls in s.classes for name in workload_names(cls)]
        machine = collect_machine_info(device)
        script_infos = [ScriptInfo(s.rel, s.sha256) for s in scripts]
        report = BenchmarkReport(kernel_info, machine, script_infos, combined_sha256(script_infos), warmup, iterations)
        print(format_header(machine, warmup, iterations), file=stdout, flush=True)

        timer = _Timer(device)
        enabled = progress if progress is not None else bool(getattr(stderr, "isatty", lambda: False)())
        bar = _Progress(sum(_calls(w, warmup, iterations) for w in workloads), enabled, stderr)
        try:
            current = None
            for w in workloads:
                if w.script is not current:
                    current = w.script
                    if not enabled:
                        print(f"Running {w.script.rel}...", file=stderr, flush=True)
                report.results.append(_run_workload(w, kernel, device, warmup, iterations, timer, bar))
        finally:
            bar.close()
    finally:
        try:
            sys.path.remove(benchmarks_dir)
        except ValueError:
            pass
        # Forget the scripts (and helpers imported from benchmarks/) so that a later run re-imports them.
        for name in set(sys.modules) - modules_before:
            module_file = getattr(sys.modules[name], "__file__", None) or ""
            if name.startswith("_kernels_benchmark_") or module_file.startswith(benchmarks_dir + os.sep):
                del sys.modules[name]

    print(format_report(report), file=stdout, flush=True)
    if output is not None:
        output = Path(output)
        try:
            output.write_text(to_json(report), encoding="utf-8")
        except OSError as e:
            raise BenchmarkError(f"cannot write {output}: {e.strerror or e}", report) from None
        print(f"Results saved to {output}", file=stderr)
    failures = report.failures
    if failures:
        first = failures[0]
        more = f" (and {len(failures) - 1} more workload(s))" if len(failures) > 1 else ""
        raise BenchmarkError(
            f"verification failed for {first.label}{more}: {first.mismatch}", report
        )
    return report
