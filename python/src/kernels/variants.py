"""Build variant names: what this environment needs and what a name means.

A variant directory is named ``torch<MAJ><MIN>[-cxx11]-<compute>-<arch>-<os>``
(for example ``torch213-cxx11-cpu-x86_64-linux`` or
``torch211-cxx11-cu130-x86_64-linux``), or is one of the Python-only forms
``torch-<backend>`` and ``torch-universal``.
"""

from __future__ import annotations

import platform
import re
import sys
from dataclasses import dataclass
from typing import Optional

from ._data import load_lib_json

BACKENDS = ("cann", "cpu", "cuda", "metal", "neuron", "rocm", "xpu")

_ARCH_VARIANT = re.compile(
    r"^torch(?P<torch>\d{2,4})"
    r"(?:-(?P<abi>cxx11|cxx98|stable))?"
    r"-(?P<compute>cpu|metal|neuron|cann|cu\d{3,4}|rocm\d{2,3}|xpu\d{5,6})"
    r"-(?P<arch>x86_64|aarch64)"
    r"-(?P<os>linux|darwin|windows)$"
)
_NOARCH_VARIANT = re.compile(r"^torch-(?P<backend>cpu|cuda|metal|neuron|rocm|xpu|cann|universal)$")


@dataclass(frozen=True)
class ParsedVariant:
    """The parts of a build variant name."""

    name: str
    backend: str
    noarch: bool
    torch_version: Optional[str] = None  # e.g. "213"
    cxx_abi: Optional[str] = None  # "cxx11", "cxx98", "stable" or None (darwin)
    compute: Optional[str] = None  # e.g. "cu130", "cpu"
    arch: Optional[str] = None
    os: Optional[str] = None


def parse_variant(name: str) -> Optional[ParsedVariant]:
    """Parse a variant directory name; ``None`` when it is not one."""
    match = _ARCH_VARIANT.match(name)
    if match:
        compute = match["compute"]
        if compute.startswith("cu"):
            backend = "cuda"
        elif compute.startswith("rocm"):
            backend = "rocm"
        elif compute.startswith("xpu"):
            backend = "xpu"
        else:
            backend = compute
        return ParsedVariant(
            name=name,
            backend=backend,
            noarch=False,
            torch_version=match["torch"],
            cxx_abi=match["abi"],
            compute=compute,
            arch=match["arch"],
            os=match["os"],
        )
    match = _NOARCH_VARIANT.match(name)
    if match:
        return ParsedVariant(name=name, backend=match["backend"], noarch=True)
    return None


def is_valid_variant_name(name: str) -> bool:
    return parse_variant(name) is not None


@dataclass(frozen=True)
class Environment:
    """What the running Python/Torch offers, as far as variant selection cares."""

    torch_version: str  # "2.13.0"
    cxx11_abi: bool
    backend: str  # cpu, cuda, rocm, xpu, metal, neuron, cann
    compute: str  # cpu, cu130, rocm71, xpu20253, metal
    arch: str  # x86_64, aarch64
    os: str  # linux, darwin, windows

    @property
    def torch_tag(self) -> str:
        major, minor = self.torch_version.split(".")[:2]
        return f"torch{major}{minor}"


def _machine_arch() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def _os_name() -> str:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "darwin"
    if sys.platform in ("win32", "cygwin"):
        return "windows"
    return sys.platform


def torch_compute_backend() -> tuple[str, str]:
    """``(backend, compute tag)`` of the installed Torch build."""
    import torch

    if torch.version.cuda is not None:
        major, minor = torch.version.cuda.split(".")[:2]
        return "cuda", f"cu{major}{minor}"
    hip = getattr(torch.version, "hip", None)
    if hip is not None:
        major, minor = hip.split(".")[:2]
        return "rocm", f"rocm{major}{minor}"
    xpu = getattr(torch.version, "xpu", None)
    if xpu is not None:
        # torch.version.xpu looks like "20250300": year, then the release.
        return "xpu", f"xpu{xpu[:4]}{int(xpu[4:6])}"
    if sys.platform == "darwin" and torch.backends.mps.is_built():
        return "metal", "metal"
    return "cpu", "cpu"


def current_environment(backend: Optional[str] = None) -> Environment:
    """Describe this process's Torch for variant selection.

    ``backend`` may only be ``cpu`` or the backend Torch was built for.
    """
    import torch

    torch_backend, compute = torch_compute_backend()
    if backend is not None and backend != torch_backend:
        if backend != "cpu":
            choices = "'cpu'" if torch_backend == "cpu" else f"'cpu' or {torch_backend!r}"
            raise ValueError(
                f"backend {backend!r} is not available: Torch {torch.__version__} was built "
                f"for {torch_backend!r}; use {choices}"
            )
        torch_backend, compute = "cpu", "cpu"
    version = torch.__version__.split("+")[0]
    return Environment(
        torch_version=version,
        cxx11_abi=bool(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", True)),
        backend=torch_backend,
        compute=compute,
        arch=_machine_arch(),
        os=_os_name(),
    )


def build_variant_name(env: Environment) -> str:
    """The arch-specific variant directory name for ``env``."""
    parts = [env.torch_tag]
    if env.os == "linux":
        parts.append("cxx11" if env.cxx11_abi else "cxx98")
    parts += [env.compute, env.arch, env.os]
    return "-".join(parts)


def current_variant(backend: Optional[str] = None) -> str:
    """Variant name of this environment, e.g. ``torch213-cxx11-cpu-x86_64-linux``."""
    return build_variant_name(current_environment(backend))


def variant_candidates(backend: Optional[str] = None) -> list[str]:
    """Variant names this environment can load, most preferred first."""
    env = current_environment(backend)
    return [build_variant_name(env), f"torch-{env.backend}", "torch-universal"]


def system_name(env: Environment) -> str:
    """Nix-style system name (``x86_64-linux``) used to key ``lib/build-variants.json``."""
    return f"{env.arch}-{env.os}"


def required_variants() -> dict[str, dict[str, list[str]]]:
    """The build variants a compliant kernel provides, by system and backend."""
    data = load_lib_json("build-variants")
    return {k: v for k, v in data.items() if not k.startswith("_") and k != "noarch"}
