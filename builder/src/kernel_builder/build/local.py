"""Build this environment's variant with the host toolchain.

Nix builds the full variant matrix reproducibly. Without Nix (or with
``--local``) we build the one variant the installed Torch needs: generate the
scikit-build-core project, build a wheel with CMake + Ninja, and assemble
``build/<variant>/`` from it. The CMake build directory is kept between runs
so that touching one source file rebuilds only that file.

``build/<variant>/`` is replaced atomically: everything is assembled in a
temporary directory inside ``build/`` and renamed into place only when it is
complete, so a failed or interrupted build leaves the previous one intact.

Concurrent builds of the same kernel variant are serialised by a file lock
(:func:`build_lock`), held from generating the project to renaming the result
into place: they share one CMake tree and one output directory. A build that
is killed while CMake runs leaves a marker in its tree; the next build finds
it and starts from a fresh tree instead of reusing a possibly broken one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

from filelock import FileLock, Timeout

from kernels.metadata import Backend, Metadata
from kernels.environment import Environment
from kernels.backends import registry
from kernels.variants import ArchVariant, TorchStableAbi, build_variant_name, current_environment, noarch_variant
from packaging.version import Version

from ..upload.card import fill_card
from ..config import BuildConfig
from ..errors import KernelBuilderError
from ..gitinfo import unique_id as resolve_unique_id
from ..options import BuildOptions
from ..plan import check_installed_versions
from ..generate.pyproject import create_pyproject, validate_unique_id

BUILD_DIR = "build"
CARD_TEMPLATE = "CARD.md"
BUILT_CARD = "CARD.md"


@dataclass(frozen=True)
class BuildResult:
    variant: str
    variant_dir: Path
    metadata: Metadata
    log_file: Optional[Path]


def make_import_root(variant_dir: Path, module_name: str, parent: Path) -> Path:
    """A directory (``parent``) in which ``<module_name>`` links to ``variant_dir``.

    Putting it on ``sys.path`` makes ``import <module_name>`` load the build
    variant (how kernel tests import the kernel), without a re-export package
    inside ``build/<variant>/`` that would hide a module of the kernel's name.
    """
    parent.mkdir(parents=True, exist_ok=True)
    link = parent / module_name
    if link.is_symlink() or link.exists():
        if not link.is_symlink():
            raise KernelBuilderError(f"{link}: exists and is not a link kernel-builder made; remove it")
        link.unlink()
    link.symlink_to(Path(variant_dir).resolve(), target_is_directory=True)
    return parent


def cache_root() -> Path:
    """Where CMake build trees are kept between builds."""
    env = os.environ.get("KERNEL_BUILDER_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "kernel-builder"


def buildable_variants(config: BuildConfig) -> list[tuple[str, str]]:
    """``(backend, variant)`` pairs this environment builds for ``config``.

    Torch's own backend comes first; the CPU variant can be built with any
    Torch, so a multi-backend kernel also gets it.
    """
    backends = config.general.backends
    if config.is_noarch:  # nothing to compile: every backend's torch-<backend> variant
        return [(backend, noarch_variant(backend).name) for backend in backends]
    env = current_environment()
    candidates = [env.backend] + (["cpu"] if env.backend != "cpu" else [])
    chosen = [b for b in candidates if b in backends]
    if not chosen:
        raise KernelBuilderError(
            f"{config.kernel_dir / 'build.toml'}: general.backends: the installed Torch is built for "
            f"{env.backend!r}, but this kernel supports only {', '.join(backends)}; install a matching "
            "Torch or build the full matrix with Nix"
        )
    variants = []
    for backend in chosen:
        backend_env = env if backend == env.backend else current_environment(backend)
        check_installed_versions(config, backend_env.torch_version, _cuda_version(backend))
        variants.append((backend, _variant_name(config, backend, backend_env)))
    return variants


def _variant_name(config: BuildConfig, backend: str, env: Environment) -> str:
    """``torch213-cxx11-cpu-x86_64-linux``, or ``torch-stable-abi211-cpu-x86_64-linux`` for a stable-ABI backend."""
    stable = config.torch.stable_abi_for(backend) if config.torch is not None else None
    if stable is None:
        return build_variant_name(env)
    major, minor = (stable.release + (0,))[:2]
    variant = env.variant
    return ArchVariant(TorchStableAbi(Version(f"{major}.{minor}")), variant.backend, variant.python,
                       variant.system).variant_str


def built_archs(info: dict, backend: str) -> tuple[str, ...]:
    """The GPU architectures a CMake build recorded in kernel-build-info.json (for metadata.json)."""
    return tuple(info.get("archs", ())) if registry().get(backend).archs else ()


def _cuda_version(backend: str) -> Optional[str]:
    """The CUDA version of the installed Torch, for a CUDA build (the bounds of other backends ignore it)."""
    if backend != "cuda":
        return None
    import torch

    return torch.version.cuda


def choose_backend(config: BuildConfig) -> tuple[str, str]:
    """The preferred ``(backend, variant)`` of :func:`buildable_variants`."""
    return buildable_variants(config)[0]


def build_local(config: BuildConfig, options: BuildOptions = BuildOptions(),
                log: Callable[[str], None] = print) -> list[BuildResult]:
    """Build every variant this environment can build (or just ``options.variant``)."""
    variants = buildable_variants(config)
    if options.variant is not None:
        variants = [(b, v) for b, v in variants if v == options.variant]
        if not variants:
            names = ", ".join(v for _, v in buildable_variants(config))
            raise KernelBuilderError(
                f"--variant: {options.variant!r} cannot be built here without Nix; this environment "
                f"builds {names}"
            )
    uid = validate_unique_id(resolve_unique_id(config.kernel_dir, options.unique_id))
    return [_build_variant(config, backend, variant, uid, options, log) for backend, variant in variants]


def _build_variant(config: BuildConfig, backend: str, variant: str, uid: str, options: BuildOptions,
                   log: Callable[[str], None]) -> BuildResult:
    """Build one variant into ``build/<variant>/``, replacing the old one atomically."""
    with build_lock(config, variant, log):
        return _build_variant_locked(config, backend, variant, uid, options, log)


def _build_variant_locked(config: BuildConfig, backend: str, variant: str, uid: str, options: BuildOptions,
                          log: Callable[[str], None]) -> BuildResult:
    build_root = config.kernel_dir / BUILD_DIR
    created_build_root = not build_root.exists()
    build_root.mkdir(exist_ok=True)
    remove_leftovers(build_root, variant)
    staging = Path(tempfile.mkdtemp(prefix=f".{variant}.tmp-", dir=build_root))
    staging.chmod(0o777 & ~umask())  # mkdtemp makes it private; a build dir is not
    try:
        if config.is_noarch:
            metadata, log_file = assemble_noarch(config, backend, uid, staging)
        else:
            metadata, log_file = _build_extension(config, backend, variant, uid, options, staging, log)
        write_metadata(staging, metadata)
        remove_bytecode(staging)
        record_digest(staging)
        write_card(config)
        final = build_root / variant
        replace_dir(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created_build_root:
            with suppress(OSError):  # another variant's build may be using it
                build_root.rmdir()
        raise
    return BuildResult(variant=variant, variant_dir=final, metadata=metadata, log_file=log_file)


@contextmanager
def build_lock(config: BuildConfig, variant: str, log: Callable[[str], None]) -> Iterator[None]:
    """Hold the lock of ``config``'s ``variant``: one build at a time per CMake tree and output directory.

    The lock file lives in the cache (never in the kernel project, which is uploaded).
    """
    identity = f"{config.kernel_dir.resolve()}\0{variant}"
    key = hashlib.sha256(identity.encode()).hexdigest()[:16]
    locks = cache_root() / "locks"
    try:
        locks.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise KernelBuilderError(f"{locks}: cannot create the build lock directory ({e.strerror or e})") from None
    lock = FileLock(str(locks / f"{config.general.module_name}-{key}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log(f"waiting for another kernel-builder build of {variant} ({lock.lock_file})")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def remove_leftovers(build_root: Path, variant: str) -> None:
    """Remove the staging and old directories a killed build of ``variant`` left in ``build/``.

    Called with the build lock held: no live build of ``variant`` owns them.
    """
    for pattern in (f".{variant}.tmp-*", f".{variant}.old-*"):
        for path in build_root.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Environment variables CMake reads only when a build tree is first configured;
#: a change must therefore start a fresh build tree rather than reuse the old one.
_TOOLCHAIN_VARIABLES = ("CC", "CXX", "CUDACXX", "CUDAHOSTCXX", "CUDA_HOME", "CMAKE_GENERATOR")


def work_dir(config: BuildConfig, variant: str) -> Path:
    """Per kernel, variant and toolchain: where the CMake build tree is kept."""
    identity = [str(config.kernel_dir.resolve()), sys.executable]
    identity += [f"{name}={os.environ.get(name, '')}" for name in _TOOLCHAIN_VARIABLES]
    key = hashlib.sha256("\0".join(identity).encode()).hexdigest()[:12]
    return cache_root() / f"{config.general.module_name}-{key}" / variant


def _build_extension(config: BuildConfig, backend: str, variant: str, uid: str, options: BuildOptions,
                     staging: Path, log: Callable[[str], None]) -> tuple[Metadata, Path]:
    work = work_dir(config, variant)
    project = work / "project"
    cmake_build = work / "cmake"
    wheel_dir = work / "wheel"
    if discard_broken_tree(work):
        log(f"the last build of {variant} was interrupted; starting from a fresh CMake tree")
    project.mkdir(parents=True, exist_ok=True)
    create_pyproject(config, project, uid, force=True)
    shutil.rmtree(wheel_dir, ignore_errors=True)
    wheel_dir.mkdir(parents=True)

    import torch.utils  # imported already to name the variant

    settings = {
        "build-dir": str(cmake_build),
        "cmake.define.KERNEL_BACKEND": backend,
        # Spares CMake a Torch import (about a second) on every configure.
        "cmake.define.KB_TORCH_CMAKE_PREFIX": torch.utils.cmake_prefix_path,
        "cmake.build-type": "Release",
        "build.verbose": "true" if options.print_build_logs else "false",
        "logging.level": "INFO" if options.print_build_logs else "WARNING",
    }
    env = dict(os.environ)
    jobs = options.max_jobs or options.cores
    if jobs:
        env["CMAKE_BUILD_PARALLEL_LEVEL"] = str(jobs)
    if options.cores:
        settings["cmake.define.KB_NVCC_THREADS"] = str(options.cores)
    script = (
        "import json, sys\n"
        "from scikit_build_core.build import build_wheel\n"
        "print(build_wheel(sys.argv[1], json.loads(sys.argv[2])))\n"
    )
    command = [sys.executable, "-c", script, str(wheel_dir), json.dumps(settings)]
    log_file = work / "build.log"
    with tree_in_use(work):
        if options.print_build_logs:
            result = subprocess.run(command, cwd=project, env=env, stdout=sys.stderr, stderr=sys.stderr)
            log_file.write_text("(build logs were printed to standard error)\n")
        else:
            result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
            log_file.write_text(result.stdout + result.stderr, encoding="utf-8")
    if result.returncode != 0:
        if not options.print_build_logs:
            tail = (result.stdout + result.stderr).strip().splitlines()[-40:]
            log("\n".join(tail))
        raise KernelBuilderError(
            f"building {variant} failed (CMake/compiler errors above; full log: {log_file})"
        )
    wheels = list(wheel_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise KernelBuilderError(f"expected one wheel in {wheel_dir}, found {len(wheels)}")
    _unpack_package(wheels[0], config.general.module_name, staging)

    info_file = cmake_build / "kernel-build-info.json"
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise KernelBuilderError(f"{info_file}: cannot read build information ({e})") from None
    archs = built_archs(info, backend)
    return variant_metadata(config, backend, info["ops_name"], archs), log_file


#: Present in a work directory while CMake runs in it; left behind by a killed build.
IN_PROGRESS_MARKER = "build-in-progress"


@contextmanager
def tree_in_use(work: Path) -> Iterator[None]:
    """Mark ``work`` as being built; the mark goes once CMake has finished, whatever its result."""
    marker = work / IN_PROGRESS_MARKER
    marker.write_text(f"{os.getpid()}\n", encoding="utf-8")
    yield  # an exception (Ctrl-C, a kill) leaves the mark: the tree may be half written
    marker.unlink()


def discard_broken_tree(work: Path) -> bool:
    """Remove the CMake tree of ``work`` if the build that last used it was killed; True if it did.

    Called with the build lock held, so a marker here is never a live build's.
    """
    if not (work / IN_PROGRESS_MARKER).exists():
        return False
    for name in ("cmake", "wheel", "project"):
        shutil.rmtree(work / name, ignore_errors=True)
    (work / IN_PROGRESS_MARKER).unlink()
    return True


def _unpack_package(wheel: Path, module_name: str, staging: Path) -> None:
    """Copy the wheel's ``<module_name>/`` package into the variant directory."""
    prefix = f"{module_name}/"
    found = False
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if not info.filename.startswith(prefix) or info.is_dir():
                continue
            rel = info.filename[len(prefix):]
            if not rel or ".." in Path(rel).parts:
                continue
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)
            found = True
    if not found:
        raise KernelBuilderError(f"{wheel}: the built wheel holds no '{module_name}' package")


def assemble_noarch(config: BuildConfig, backend: str, uid: str, staging: Path) -> tuple[Metadata, None]:
    package = config.python_package_dir
    extensions = tuple(f".{e}" for e in config.pyext)  # code and the data files pyext names
    for path in package.rglob("*"):
        if "__pycache__" in path.parts or not path.is_file() or path.suffix not in extensions:
            continue
        target = staging / path.relative_to(package)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    ops_name = f"_{config.general.module_name}_{backend}_{uid}"
    from importlib import resources

    template = resources.files("kernel_builder").joinpath("templates", "_ops_noarch.py.in").read_text()
    text = template.replace("@MODULE_NAME@", config.general.module_name).replace("@UNIQUE_ID@", uid)
    (staging / "_ops.py").write_text(text, encoding="utf-8")
    return variant_metadata(config, backend, ops_name, ()), None


def variant_metadata(config: BuildConfig, backend: str, ops_name: str, archs: tuple[str, ...]) -> Metadata:
    general = config.general
    backend_depends = general.backend_python_depends.get(backend, ())
    return Metadata(
        id=ops_name,
        name=general.name,
        version=general.version,
        license=general.license,
        backend=Backend(type=backend, archs=archs),
        python_depends=general.python_depends,
        python_depends_backends={backend: backend_depends} if backend_depends else {},
        upstream=general.upstream,
    )


def write_metadata(staging: Path, metadata: Metadata) -> None:
    text = json.dumps(metadata.to_dict(), indent=2) + "\n"
    (staging / "metadata.json").write_text(text, encoding="utf-8")


def record_digest(variant_dir: Path) -> None:
    """Write the digest of the variant's files into its metadata.json (upstream's format; the last step of a build)."""
    from kernels.integrity import hash_variant

    path = variant_dir / "metadata.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["digest"] = hash_variant(variant_dir).to_dict()
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def remove_bytecode(root: Path) -> None:
    for cache in list(root.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    for pyc in list(root.rglob("*.py[co]")):
        pyc.unlink()


def write_card(config: BuildConfig) -> None:
    template = config.kernel_dir / CARD_TEMPLATE
    if not template.is_file():
        return
    card = fill_card(config, template.read_text(encoding="utf-8"))
    target = config.kernel_dir / BUILD_DIR / BUILT_CARD
    handle, name = tempfile.mkstemp(prefix=f".{BUILT_CARD}.", suffix=".tmp", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:  # a unique name: other variants build at once
            f.write(card)
        tmp.chmod(0o666 & ~umask())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_dir(staging: Path, final: Path) -> None:
    """Move ``staging`` to ``final``, replacing any previous build atomically.

    On Linux the two directories are swapped in one step, so a kernel being
    loaded meanwhile always finds ``final``; elsewhere ``final`` is missing
    for the moment between two renames.
    """
    if final.is_dir() and not final.is_symlink() and _exchange(staging, final):
        shutil.rmtree(staging, ignore_errors=True)  # it holds the previous build now
        return
    old = None
    if final.exists() or final.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        old.rmdir()
        os.rename(final, old)
    try:
        os.rename(staging, final)
    except BaseException:
        if old is not None:
            os.rename(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically with Linux's ``renameat2(RENAME_EXCHANGE)``; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # glibc < 2.28, musl
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if result == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: the kernel or file system cannot swap
        return False
    raise OSError(errno, os.strerror(errno), str(second))
