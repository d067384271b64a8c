"""kernel-builder list-variants: the shared matrix intersected with a kernel's backends and bounds."""

from __future__ import annotations

import platform
from pathlib import Path

from click.testing import CliRunner

from kernel_builder.cli import main
from kernels import matrix


def _kernel(root: Path, general: str, torch: str = '[torch]\nsrc = ["b.cpp"]\n') -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "b.cpp").write_text("")
    (root / "torch-ext" / "k").mkdir(parents=True)
    (root / "torch-ext" / "k" / "__init__.py").write_text("")
    (root / "build.toml").write_text(f'[general]\nname = "k"\n{general}\n{torch}')
    return root


def _variants(*args: str) -> list[str]:
    result = CliRunner().invoke(main, ["list-variants", *args])
    assert result.exit_code == 0, result.output
    return result.output.split()


def test_cpu_kernel_lists_every_cpu_variant_of_the_matrix(tmp_path: Path) -> None:
    root = _kernel(tmp_path / "k", 'backends = ["cpu"]')
    variants = _variants(str(root))
    expected = sorted({b.variant for b in matrix.builds(backend="cpu")})
    assert variants == expected
    assert "torch211-cxx11-cpu-x86_64-linux" in variants and "torch211-cpu-aarch64-darwin" in variants
    assert not any("-cu" in v or "rocm" in v for v in variants)


def test_bounds_limit_torch_and_cuda_versions(tmp_path: Path) -> None:
    root = _kernel(
        tmp_path / "k",
        'backends = ["cuda"]\n[general.cuda]\nminver = "13.0"\n',
        '[torch]\nsrc = ["b.cpp"]\nmaxver = "2.11"\n',
    )
    variants = _variants(str(root))
    assert variants
    assert all(v.startswith("torch211-") for v in variants)
    assert all("-cu13" in v for v in variants)


def test_arch_limits_to_this_machine(tmp_path: Path) -> None:
    root = _kernel(tmp_path / "k", 'backends = ["cpu", "cuda"]')
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())
    variants = _variants("--arch", str(root))
    assert variants and all(v.endswith(f"-{arch}-linux") for v in variants)
    assert set(variants) < set(_variants(str(root)))


def test_noarch_kernel_lists_torch_backend_variants(tmp_path: Path) -> None:
    root = _kernel(tmp_path / "k", 'backends = ["cuda", "xpu"]', torch="")
    assert _variants(str(root)) == ["torch-cuda", "torch-xpu"]


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    root = _kernel(tmp_path / "k", 'backends = ["vulkan"]')
    result = CliRunner().invoke(main, ["list-variants", str(root)])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: ") and "general.backends" in result.output
