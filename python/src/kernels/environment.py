"""The running environment, resolved once into one typed value.

:func:`current_environment` asks Torch (and the interpreter) what this process
can load; the answer is cached, and the variant candidates, the user-agent
parts and the error summaries all derive from it.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
import sysconfig
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional

from packaging.version import Version

from .backends import CPU, CUDA, XPU, Backend, Metal, ROCm, backend_value, on_registry_change
from .variants import ArchVariant, NoarchVariant, System, Variant, arch_variant, noarch_variant


@dataclass(frozen=True)
class Environment:
    """What the running Python/Torch offers, as far as variant selection cares."""

    torch_version: str  # "2.13.0"
    cxx11_abi: bool
    backend: str  # registry name: cpu, cuda, rocm, ...
    compute: str  # the backend's part of a variant name: cpu, cu130, rocm71
    arch: str  # x86_64, aarch64
    os: str  # linux, darwin, windows
    toolkit: Optional[Version] = None  # CUDA/ROCm/XPU version; None for unversioned backends
    tvm_ffi_version: Optional[Version] = None  # major.minor of the installed tvm-ffi, if any
    macos_version: Optional[Version] = None  # on macOS only
    python_version: Version = field(default_factory=lambda: interpreter_version())
    free_threaded: bool = field(default_factory=lambda: is_free_threaded())
    has_mlx: bool = False

    @property
    def torch_tag(self) -> str:
        major, minor = self.torch_version.split(".")[:2]
        return f"torch{major}{minor}"

    @property
    def backend_value(self) -> Backend:
        return backend_value(self.backend, self.toolkit)

    @property
    def system(self) -> System:
        return System(self.arch, self.os)

    @property
    def variant(self) -> ArchVariant:
        """The arch variant built for exactly this environment."""
        return arch_variant(self.torch_version, self.backend, self.toolkit, self.arch, self.os,
                            cxx11_abi=self.cxx11_abi)

    def candidates(self) -> tuple[Variant, ...]:
        """Variants this environment loads, most preferred first."""
        noarch: NoarchVariant = noarch_variant(self.backend)
        return (self.variant, noarch, noarch_variant("universal"))


def machine_arch() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def os_name() -> str:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "darwin"
    if sys.platform in ("win32", "cygwin"):
        return "windows"
    return sys.platform


def interpreter_version() -> Version:
    """This interpreter's ``major.minor``."""
    return Version(f"{sys.version_info.major}.{sys.version_info.minor}")


def is_free_threaded() -> bool:
    """Whether this interpreter is a free-threaded (no-GIL) build, which loads abi3t but not abi3."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def macos_version() -> Optional[Version]:
    """The macOS release (``26.1``) on macOS, else None."""
    if sys.platform != "darwin":
        return None
    release = platform.mac_ver()[0]
    return Version(release) if release else None


def tvm_ffi_version() -> Optional[Version]:
    """``major.minor`` of the installed tvm-ffi package, or None when it is not installed."""
    if importlib.util.find_spec("tvm_ffi") is None:
        return None
    from importlib import metadata

    try:
        text = metadata.version("apache-tvm-ffi")
    except metadata.PackageNotFoundError:
        import tvm_ffi  # type: ignore[import-not-found]

        text = str(getattr(tvm_ffi, "__version__", ""))
    try:
        release = Version(text).release
    except ValueError:
        return None
    return Version(f"{release[0]}.{release[1] if len(release) > 1 else 0}")


def host_system() -> str:
    """This machine as a Nix-style system name (``x86_64-linux``); needs no Torch."""
    return f"{machine_arch()}-{os_name()}"


def torch_backend() -> Backend:
    """The backend the installed Torch was built for (per-backend detection)."""
    import torch

    if torch.version.cuda is not None:
        return CUDA(Version(torch.version.cuda))
    hip = getattr(torch.version, "hip", None)
    if hip is not None:
        return ROCm(Version(".".join(hip.split("-")[0].split(".")[:2])))
    xpu = getattr(torch.version, "xpu", None)
    if xpu is not None:
        # torch.version.xpu looks like "20250300": year, then the release.
        return XPU(Version(f"{xpu[:4]}.{int(xpu[4:6])}"))
    if sys.platform == "darwin" and torch.backends.mps.is_built():
        return Metal()
    return CPU()


def torch_compute_backend() -> tuple[str, str]:
    """``(backend, compute tag)`` of the installed Torch build."""
    found = torch_backend()
    return found.name, found.variant_str


@lru_cache(maxsize=None)
def _resolve(backend: Optional[str]) -> Environment:
    import torch

    found = torch_backend()
    if backend is not None and backend != found.name:
        if backend != "cpu":
            choices = "'cpu'" if found.name == "cpu" else f"'cpu' or {found.name!r}"
            raise ValueError(
                f"backend {backend!r} is not available: Torch {torch.__version__} was built "
                f"for {found.name!r}; use {choices}"
            )
        found = CPU()
    return Environment(
        torch_version=torch.__version__.split("+")[0],
        cxx11_abi=bool(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", True)),
        backend=found.name,
        compute=found.variant_str,
        arch=machine_arch(),
        os=os_name(),
        toolkit=found.version,
        tvm_ffi_version=tvm_ffi_version(),
        macos_version=macos_version(),
        has_mlx=importlib.util.find_spec("mlx") is not None,
    )


def current_environment(backend: Optional[str] = None) -> Environment:
    """This process's environment (cached); ``backend`` may only be ``cpu`` or Torch's own backend."""
    return _resolve(backend)


on_registry_change(_resolve.cache_clear)


def current_variant(backend: Optional[str] = None) -> str:
    """Variant name of this environment, e.g. ``torch213-cxx11-cpu-x86_64-linux``."""
    return current_environment(backend).variant.variant_str


def build_variant_name(env: Environment) -> str:
    """The arch-specific variant directory name for ``env``."""
    return env.variant.variant_str


def variant_candidates(backend: Optional[str] = None) -> list[str]:
    """Names of the variants this environment can load, most preferred first."""
    return [v.variant_str for v in current_environment(backend).candidates()]


def system_name(env: Environment) -> str:
    """Nix-style system name (``x86_64-linux``) used to key ``lib/build-variants.json``."""
    return f"{env.arch}-{env.os}"
