"""check-abi and check-builds on the real examples/relu build.

The relu build here uses the host toolchain, not Nix's manylinux_2_28 one,
so whether it meets manylinux_2_28 depends on this machine's compiler and
glibc. The test therefore computes the truth independently (readelf's view of
the symbol versions against the limits the kernel requirements name) and
requires check-abi to report exactly that.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kernel_builder.build.local import record_digest
from e2e_support import BuiltKernel, run_kernel_builder

#: The manylinux_2_28 limits the kernel requirements list.
LIMITS = {"GLIBC": (2, 28), "GLIBCXX": (3, 4, 24), "CXXABI": (1, 3, 11), "GCC": (7, 0, 0)}


def too_new_versions(library: Path) -> set[str]:
    """Symbol versions above the manylinux_2_28 limits, as binutils' readelf sees them."""
    text = subprocess.run(["readelf", "-V", "-W", str(library)], capture_output=True, text=True,
                          check=True).stdout
    found = set()
    for name in re.findall(r"Name: (\S+)", text):
        family, _, version = name.partition("_")
        if family in LIMITS and re.fullmatch(r"[\d.]+", version):
            if tuple(int(p) for p in version.split(".")) > LIMITS[family]:
                found.add(name)
    return found


def extension(build: BuiltKernel) -> Path:
    (library,) = build.variant_dir.glob("*.abi3.so")
    return library


@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs binutils' readelf")
def test_check_abi_reports_the_relu_build_truthfully(relu_build: BuiltKernel) -> None:
    library = extension(relu_build)
    expected = too_new_versions(library)
    result = run_kernel_builder("check-abi", str(relu_build.kernel_dir), check=False)
    out = result.stdout
    assert result.stderr == ""
    assert f"🐍 Checking for compatibility with manylinux_2_28 and Python ABI version 3.9: {library}" in out
    # Python: the extension keeps to the stable ABI of Python 3.9.
    assert "Python ABI 3.9:" not in out
    assert re.search(r"Python C-API: \d+ symbol\(s\), all in the stable ABI; minimum Python 3\.\d\b", out)
    # Libraries: Torch and the C/C++ runtime only.
    assert "linked library" not in out
    reported = set(re.findall(r"^   manylinux_2_28: \S+: (\S+) \(should be at most", out, re.M))
    assert reported == expected, out
    if expected:
        # A host-toolchain build may legitimately fail manylinux_2_28; the output says why.
        assert result.returncode == 1
        assert "note: " in out and "come" in out and "from the toolchain that built the file" in out
        assert "build with Nix" in out
        oldest = re.search(r"oldest manylinux policy they fit: (manylinux_\d+_\d+)", out)
        assert oldest, out
        assert run_kernel_builder("check-abi", str(relu_build.kernel_dir), "-m", oldest[1]).returncode == 0
    else:
        assert result.returncode == 0
        assert "✅ No compatibility issues found" in out


def test_check_builds_passes_for_the_relu_build(relu_build: BuiltKernel) -> None:
    result = run_kernel_builder("check-builds", str(relu_build.kernel_dir))
    variant = relu_build.variant_dir.name
    assert f"✅ {variant}: layout and metadata OK (ops namespace _relu_cpu_first)" in result.stdout
    assert f"   {variant}: imports through the kernels loader" in result.stdout
    assert result.stdout.rstrip().endswith("✅ All 1 build variant(s) are valid")


@pytest.fixture
def damaged(relu_build: BuiltKernel, tmp_path: Path) -> Path:
    """A copy of the relu build to break: returns the copied variant directory."""
    kernel = tmp_path / "relu"
    shutil.copytree(relu_build.kernel_dir / "build", kernel / "build")
    return kernel / "build" / relu_build.variant_dir.name


def check_builds_problems(variant: Path) -> list[str]:
    result = run_kernel_builder("check-builds", str(variant.parent.parent), check=False)
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith(f"❌ {variant.name}: ")]


def test_check_builds_catches_a_relu_variant_that_fails_to_import(damaged: Path) -> None:
    (damaged / "_relu_cpu_first.abi3.so").unlink()
    record_digest(damaged)  # a build that lacks its extension (rather than a tampered one)
    (problem,) = check_builds_problems(damaged)
    assert problem.startswith(f"❌ {damaged.name}: import through the kernels loader failed: ImportError:")
    assert "_relu_cpu_first" in problem


def test_check_builds_catches_wrong_ops_namespace_and_compat_exports(damaged: Path) -> None:
    metadata = (damaged / "metadata.json").read_text().replace("_relu_cpu_first", "_relu_cpu_other")
    (damaged / "metadata.json").write_text(metadata)
    (damaged / "CMakeCache.txt").write_text("")
    problems = check_builds_problems(damaged)
    assert f"❌ {damaged.name}: _ops.py: ops namespace torch.ops._relu_cpu_first does not match the metadata id " \
           "'_relu_cpu_other'" in problems
    assert f"❌ {damaged.name}: CMakeCache.txt: build-tree file that does not belong in a build (delete it)" in problems


def test_check_abi_and_builds_agree_on_a_clean_copy(damaged: Path) -> None:
    """check-abi accepts a variant directory (or one library) as well as the kernel directory."""
    by_variant = run_kernel_builder("check-abi", str(damaged), "-m", "manylinux_2_39", check=False)
    (library,) = damaged.glob("*.abi3.so")
    by_file = run_kernel_builder("check-abi", str(library), "-m", "manylinux_2_39", check=False)
    assert by_variant.returncode == by_file.returncode == 0, by_variant.stdout
    assert by_variant.stdout.splitlines()[1] == "✅ No compatibility issues found"
