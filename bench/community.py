"""The community kernels as benchmark columns, built from their public sources in a scratch directory.

Two steps, on two machines:

    # here (with the fetched mirror of github:huggingface/kernels-community):
    python bench/community.py export --mirror /work/.mirror/huggingface+kernels-community/repo
    # on the GPU machine (no network; nvcc and a CUDA build of torch):
    python bench/community.py build --build-dir /tmp/community-build

`export` copies the sources the benchmark needs out of the mirror into
`.community/` (ignored by git: their code is never committed here) with a
SOURCE.json naming the commit. `build` compiles kernels-community `activation`
(CUDA, torch stable ABI) with nvcc and the host compiler into one shared
library (loaded with torch.ops.load_library), with a registration header of
our own in place of kernel-builder's,
and records where liger-kernels' Triton RMSNorm (pure Python) is. The
benchmark then calls `load(build_dir)`.

kernels-community has no CUDA `rmsnorm` (its `rmsnorm` is CPU and XPU only;
`layer-norm` is flash-attention's fused dropout+LayerNorm for hidden sizes up
to 8192); transformers maps `RMSNorm` on CUDA to liger-kernels' `LigerRMSNorm`,
so that is the rms_norm column.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = Path("/work/.mirror/huggingface+kernels-community/repo")
DEFAULT_SOURCE = REPO / ".community"
UPSTREAM = "github:huggingface/kernels-community"
EXTENSION_NAME = "community_activation"

#: What the benchmark needs from kernels-community: destination folder -> upstream folders.
EXPORTS = {
    "activation": ("activation/activation", "activation/torch-ext"),
    "liger_kernels": ("liger-kernels/torch-ext/liger_kernels",),
}
#: Upstream files copied from those folders (by suffix).
EXPORT_SUFFIXES = (".cu", ".cuh", ".h", ".cpp", ".py")
ACTIVATION_CUDA_SOURCES = ("activation_kernels.cu",)
ACTIVATION_CXX_SOURCES = ("torch_binding.cpp",)
#: Ops the community kernels provide for the benchmark's ops.
ACTIVATION_OPS = ("silu_and_mul", "gelu_and_mul", "gelu_fast", "gelu_tanh")
GATED_OPS = ("silu_and_mul", "gelu_and_mul")


class CommunityError(Exception):
    """A problem with one clear line of explanation (the CLI prints it, no traceback)."""


# --------------------------------------------------------------------------
# Export (here).

def _git(mirror: Path, *args: str) -> str:
    try:
        return subprocess.run(["git", f"--git-dir={mirror}", *args], check=True, capture_output=True,
                              text=True, timeout=60).stdout
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        detail = getattr(e, "stderr", None) or str(e)
        raise CommunityError(f"{mirror}: git {' '.join(args)} failed: {detail.strip().splitlines()[-1]}") from None


def _git_bytes(mirror: Path, spec: str) -> bytes:
    try:
        return subprocess.run(["git", f"--git-dir={mirror}", "show", spec], check=True, capture_output=True,
                              timeout=60).stdout
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        raise CommunityError(f"{mirror}: cannot read {spec}") from None


@dataclasses.dataclass(frozen=True)
class Export:
    commit: str
    files: tuple[str, ...]  # relative to the destination


def export(mirror: Path, dest: Path, revision: str = "HEAD") -> Export:
    """Copy the needed upstream files at `revision` into `dest` (replaced as a whole, atomically)."""
    if not mirror.is_dir():
        raise CommunityError(f"--mirror {mirror}: no such directory (fetch {UPSTREAM} first)")
    commit = _git(mirror, "rev-parse", "--verify", f"{revision}^{{commit}}").strip()
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".community-", dir=dest.parent))
    try:
        files = []
        for target, folders in EXPORTS.items():
            for folder in folders:
                listing = _git(mirror, "ls-tree", "--name-only", f"{commit}:{folder}").split()
                if not listing:
                    raise CommunityError(f"{mirror}: {folder} is missing at {commit[:12]}")
                for name in listing:
                    if name.endswith(EXPORT_SUFFIXES):
                        out = staging / target / name
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_bytes(_git_bytes(mirror, f"{commit}:{folder}/{name}"))
                        files.append(f"{target}/{name}")
        manifest = {"upstream": UPSTREAM, "commit": commit, "files": sorted(files),
                    "folders": {t: list(f) for t, f in EXPORTS.items()}}
        (staging / "SOURCE.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Export(commit, tuple(sorted(files)))


def read_manifest(source: Path) -> dict:
    try:
        return json.loads((source / "SOURCE.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise CommunityError(f"{source}: no community sources (SOURCE.json missing or unreadable); "
                             "run `python bench/community.py export` first") from None


# --------------------------------------------------------------------------
# Build (on the GPU machine).

REGISTRATION_HEADER = """\
// Written by bench/community.py: the registration macros kernels-community's
// sources expect from kernel-builder, for a build outside kernel-builder.
#pragma once
#include <torch/csrc/stable/library.h>

// Expand TORCH_EXTENSION_NAME before Torch's macros paste it.
#define STABLE_TORCH_LIBRARY_EXPAND(NAME, MODULE) STABLE_TORCH_LIBRARY(NAME, MODULE)
#define STABLE_TORCH_LIBRARY_IMPL_EXPAND(NAME, DEVICE, MODULE) \\
  STABLE_TORCH_LIBRARY_IMPL(NAME, DEVICE, MODULE)

// The library is loaded with torch.ops.load_library, not imported as a Python
// module: its static initialisers register the ops, so no PyInit_ function
// (and no Python header) is needed.
#define REGISTER_EXTENSION(NAME)
"""


@dataclasses.dataclass(frozen=True)
class Toolchain:
    """Where the compilers and Torch's headers and libraries are."""

    nvcc: str
    cxx: str
    torch_includes: tuple[str, ...]
    torch_lib: str
    cuda_lib: str
    cxx11_abi: int


def detect_toolchain() -> Toolchain:
    import torch
    from torch.utils import cpp_extension

    cuda_home = cpp_extension.CUDA_HOME or "/usr/local/cuda"
    nvcc = shutil.which("nvcc") or os.path.join(cuda_home, "bin", "nvcc")
    # The CUDA runtime to link: the first toolkit that has one (nvcc may be a link or a wrapper script).
    homes = [os.environ.get("CUDA_HOME"), cuda_home, str(Path(nvcc).resolve().parent.parent), "/usr/local/cuda"]
    cuda_lib = next((str(Path(h) / "lib64") for h in homes if h and (Path(h) / "lib64" / "libcudart.so").exists()),
                    str(Path(cuda_home) / "lib64"))
    cxx = os.environ.get("CXX") or shutil.which("c++") or "c++"
    return Toolchain(nvcc=nvcc, cxx=cxx, torch_includes=tuple(cpp_extension.include_paths()),
                     torch_lib=os.path.join(os.path.dirname(torch.__file__), "lib"),
                     cuda_lib=cuda_lib, cxx11_abi=int(torch._C._GLIBCXX_USE_CXX11_ABI))


def compile_commands(tc: Toolchain, source: Path, build_dir: Path, archs: Sequence[str]) -> list[list[str]]:
    """nvcc and c++ command lines (compile each file, then link) of the community activation library."""
    src = source / "activation"
    defines = ["-DCUDA_KERNEL", "-DUSE_CUDA", f"-DTORCH_EXTENSION_NAME={EXTENSION_NAME}",
               f"-D_GLIBCXX_USE_CXX11_ABI={tc.cxx11_abi}"]
    includes = [f"-I{build_dir / 'include'}", f"-I{src}", *(f"-I{p}" for p in tc.torch_includes)]
    gencode = [f"-gencode=arch=compute_{a.replace('.', '')},code=sm_{a.replace('.', '')}" for a in archs]
    commands, objects = [], []
    for name in ACTIVATION_CUDA_SOURCES:
        obj = build_dir / f"{name}.o"
        commands.append([tc.nvcc, "-c", str(src / name), "-o", str(obj), "-std=c++17", "-O3", "-ccbin", tc.cxx,
                         "-Xcompiler", "-fPIC", "--expt-relaxed-constexpr", *gencode, *defines, *includes])
        objects.append(str(obj))
    for name in ACTIVATION_CXX_SOURCES:
        obj = build_dir / f"{name}.o"
        commands.append([tc.cxx, "-c", str(src / name), "-o", str(obj), "-std=c++17", "-O3", "-fPIC",
                         *defines, *includes])
        objects.append(str(obj))
    commands.append([tc.cxx, "-shared", "-o", str(build_dir / f"{EXTENSION_NAME}.so"), *objects,
                     f"-L{tc.torch_lib}", f"-Wl,-rpath,{tc.torch_lib}", "-lc10", "-ltorch", "-ltorch_cpu",
                     # The shim's CUDA stream accessor lives in libtorch_cuda.
                     "-ltorch_cuda", f"-L{tc.cuda_lib}", "-lcudart"])
    return commands


def build(source: Path, build_dir: Path, archs: Sequence[str], toolchain: Optional[Toolchain] = None) -> dict:
    """Compile the activation library into build_dir and write BUILD.json; returns its content."""
    manifest = read_manifest(source)
    tc = toolchain or detect_toolchain()
    (build_dir / "include").mkdir(parents=True, exist_ok=True)
    (build_dir / "include" / "registration.h").write_text(REGISTRATION_HEADER, encoding="utf-8")
    log = build_dir / "build.log"
    with log.open("w", encoding="utf-8") as out:
        for command in compile_commands(tc, source, build_dir, archs):
            out.write("$ " + " ".join(command) + "\n")
            out.flush()
            proc = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=900)
            if proc.returncode != 0:
                raise CommunityError(f"building the community activation kernel failed "
                                     f"({Path(command[0]).name} exit {proc.returncode}); see {log}")
    info = {"commit": manifest["commit"], "upstream": manifest["upstream"], "archs": list(archs),
            "activation_library": str(build_dir / f"{EXTENSION_NAME}.so"),
            "liger_dir": str(source.resolve())}
    (build_dir / "BUILD.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


# --------------------------------------------------------------------------
# Load (in the benchmark).

@dataclasses.dataclass(frozen=True)
class Community:
    """The community ops as benchmark candidates."""

    activation: object  # torch.ops namespace of the built library
    liger_rms_norm: object  # liger-kernels' LigerRMSNormFunction
    description: str

    def supports(self, op: str) -> bool:
        return op in ACTIVATION_OPS or op == "rms_norm"

    def candidate(self, op: str, args: tuple, make_candidate):
        import torch

        if op == "rms_norm":
            x, w, eps = args
            last = {}

            def run():
                last["y"] = self.liger_rms_norm.apply(x, w, eps, 0.0, "llama", True, None)
            return make_candidate(run, lambda: last["y"])
        (x,) = args
        shape = (*x.shape[:-1], x.shape[-1] // 2) if op in GATED_OPS else x.shape
        out = torch.full(shape, float("nan"), dtype=x.dtype, device=x.device)
        fn = getattr(self.activation, op)
        return make_candidate(lambda: fn(out, x), lambda: out)


def load(build_dir: Path) -> Community:
    import importlib

    import torch

    info = json.loads((build_dir / "BUILD.json").read_text(encoding="utf-8"))
    torch.ops.load_library(info["activation_library"])
    sys.path.insert(0, info["liger_dir"])
    liger = importlib.import_module("liger_kernels.rms_norm")
    description = (f"[kernels-community]({info['upstream'].replace('github:', 'https://github.com/')}) at "
                   f"`{info['commit'][:12]}`, built from source in the same run: `activation` (its CUDA "
                   f"ops, for sm {', '.join(info['archs'])}) and, for rms_norm, liger-kernels' Triton "
                   "`LigerRMSNorm` (casting mode `llama`), which transformers maps `RMSNorm` to on CUDA.")
    return Community(getattr(torch.ops, EXTENSION_NAME), liger.LigerRMSNormFunction, description)


# --------------------------------------------------------------------------

def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="copy the upstream sources from the mirror into --dest")
    ex.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR, help="git directory of the fetched mirror")
    ex.add_argument("--revision", default="HEAD")
    ex.add_argument("--dest", type=Path, default=DEFAULT_SOURCE)
    bu = sub.add_parser("build", help="compile the exported sources into --build-dir")
    bu.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    bu.add_argument("--build-dir", type=Path, required=True)
    bu.add_argument("--arch", action="append", default=None,
                    help="CUDA capability to compile for, e.g. 9.0 (repeatable; default: this GPU's)")
    args = parser.parse_args(argv)
    if args.command == "build" and args.arch:
        for arch in args.arch:
            if not all(part.isdigit() for part in arch.split(".")) or arch.count(".") != 1:
                parser.error(f"--arch {arch!r}: expected a capability like 9.0")
    return args


def default_archs() -> list[str]:
    import torch

    major, minor = torch.cuda.get_device_capability(0)
    return [f"{major}.{minor}"]


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "export":
            result = export(args.mirror, args.dest, args.revision)
            print(f"exported {len(result.files)} files of {UPSTREAM} at {result.commit[:12]} to {args.dest}")
        else:
            info = build(args.source, args.build_dir, args.arch or default_archs())
            print(f"built {info['activation_library']} ({UPSTREAM} at {info['commit'][:12]})")
    except CommunityError as e:
        print(f"community.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
