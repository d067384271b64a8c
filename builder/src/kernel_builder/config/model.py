"""The validated ``build.toml`` values (frozen; every edition parses into these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from packaging.version import Version

#: The framework sections; a build.toml has exactly one (edition 3: ``[torch]`` or none).
FRAMEWORKS = ("torch", "torch-noarch", "tvm-ffi")
DEFAULT_PYEXT = ("py", "pyi")


@dataclass(frozen=True)
class Hub:
    repo_id: Optional[str] = None
    branch: Optional[str] = None


@dataclass(frozen=True)
class KernelDependency:
    """Another Hub kernel this one needs: a major ``version`` or a git ``revision``."""

    repo_id: str
    version: Optional[int] = None
    revision: Optional[str] = None


@dataclass(frozen=True)
class CudaGeneral:
    minver: Optional[Version] = None
    maxver: Optional[Version] = None
    python_depends: tuple[str, ...] = ()


@dataclass(frozen=True)
class General:
    name: str
    backends: tuple[str, ...]
    version: int = 1
    license: str = "Apache-2.0"
    upstream: Optional[str] = None
    source: Optional[str] = None
    python_depends: tuple[str, ...] = ()
    hub: Hub = field(default_factory=Hub)
    cuda: CudaGeneral = field(default_factory=CudaGeneral)
    #: Backend-specific python dependencies (``[general.<backend>] python-depends``).
    backend_python_depends: dict[str, tuple[str, ...]] = field(default_factory=dict)
    kernel_depends: tuple[KernelDependency, ...] = ()
    #: Backend-specific kernel dependencies (``[general.<backend>] kernel-depends``).
    backend_kernel_depends: dict[str, tuple[KernelDependency, ...]] = field(default_factory=dict)

    @property
    def module_name(self) -> str:
        """The kernel's Python module name (dashes become underscores)."""
        return self.name.replace("-", "_")

    def python_depends_for(self, backend: str) -> tuple[str, ...]:
        return self.python_depends + self.backend_python_depends.get(backend, ())

    def kernel_depends_for(self, backend: str) -> tuple[KernelDependency, ...]:
        return self.kernel_depends + self.backend_kernel_depends.get(backend, ())


@dataclass(frozen=True)
class Torch:
    """``[torch]``: an ahead-of-time compiled Torch extension."""

    src: tuple[str, ...] = ()
    pyext: tuple[str, ...] = DEFAULT_PYEXT
    include: tuple[str, ...] = ()
    minver: Optional[Version] = None
    maxver: Optional[Version] = None
    #: ``stable-abi = "2.11"`` (one version for every backend); None for the table form.
    stable_abi: Optional[Version] = None
    #: backend -> Torch stable ABI version, for the backends of general.backends it applies to.
    stable_abi_backends: dict[str, Version] = field(default_factory=dict)
    #: Flags for the binding sources (``src``) only; kernels have their own.
    cxx_flags: tuple[str, ...] = ()

    def stable_abi_for(self, backend: str) -> Optional[Version]:
        """The stable ABI version ``backend`` builds against (None: the full ABI)."""
        return self.stable_abi_backends.get(backend)


@dataclass(frozen=True)
class TorchNoarch:
    """``[torch-noarch]``: Python-only (or JIT-compiled) Torch kernel."""

    pyext: tuple[str, ...] = DEFAULT_PYEXT
    #: Metadata only: the GPU archs the kernel supports (None: all).
    cuda_capabilities: Optional[tuple[str, ...]] = None
    rocm_archs: Optional[tuple[str, ...]] = None


@dataclass(frozen=True)
class TvmFfi:
    """``[tvm-ffi]``: an ahead-of-time compiled TVM FFI extension."""

    src: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    pyext: tuple[str, ...] = DEFAULT_PYEXT
    cxx_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kernel:
    name: str
    backend: str
    depends: tuple[str, ...]
    src: tuple[str, ...]
    include: tuple[str, ...] = ()
    cxx_flags: tuple[str, ...] = ()
    cuda_capabilities: Optional[tuple[str, ...]] = None
    cuda_flags: tuple[str, ...] = ()
    cuda_minver: Optional[Version] = None
    rocm_archs: tuple[str, ...] = ()
    hip_flags: tuple[str, ...] = ()
    sycl_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildConfig:
    """A validated ``build.toml`` together with the project directory it lives in."""

    kernel_dir: Path
    general: General
    torch: Optional[Torch]
    kernels: dict[str, Kernel]
    noarch: Optional[TorchNoarch] = None
    tvm_ffi: Optional[TvmFfi] = None
    #: The edition the file is written in (3 and 4 are legacy, read as edition 5).
    edition: int = 5
    #: Things the author should fix (legacy format), shown once by the CLI.
    warnings: tuple[str, ...] = ()

    @property
    def framework(self) -> str:
        if self.tvm_ffi is not None:
            return "tvm-ffi"
        return "torch" if self.torch is not None else "torch-noarch"

    @property
    def is_noarch(self) -> bool:
        """Python-only kernel (``[torch-noarch]``): builds ``torch-<backend>`` variants."""
        return self.framework == "torch-noarch"

    @property
    def pyext(self) -> tuple[str, ...]:
        """Extensions of the files shipped from the Python package (code and data)."""
        section = self.torch or self.tvm_ffi or self.noarch
        return section.pyext if section is not None else DEFAULT_PYEXT

    def kernels_for(self, backend: str) -> list[Kernel]:
        return [k for k in self.kernels.values() if k.backend == backend]

    def compiled_backends(self) -> tuple[str, ...]:
        """Backends that build a native extension (the others become ``torch-<backend>``)."""
        if self.is_noarch:
            return ()
        return tuple(b for b in self.general.backends if self.kernels_for(b))

    @property
    def extension_dir(self) -> str:
        """Where the framework's binding sources and Python package live."""
        return "tvm-ffi-ext" if self.framework == "tvm-ffi" else "torch-ext"

    @property
    def python_package_dir(self) -> Path:
        return self.kernel_dir / self.extension_dir / self.general.module_name
