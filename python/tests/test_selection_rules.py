"""The selection rules (kernels.selection_rules.resolve_for_system), one rule per test, no Torch needed."""

from __future__ import annotations

from typing import Optional

import pytest
from packaging.version import Version

from kernels.backends import CPU, CUDA, XPU, Metal, ROCm
from kernels.selection_rules import VariantAccepted, VariantRejected, resolve_for_system
from kernels.variants import parse_variant

LINUX = dict(cpu="x86_64", os="linux")


def resolve(names: list[str], backend=CPU(), *, torch: Optional[str] = "2.13", cxx11: Optional[bool] = True,
            **system):
    where = {**LINUX, **{k: system.pop(k) for k in ("cpu", "os") if k in system}}
    accepted, trace = resolve_for_system([parse_variant(n) for n in names], backend, where["cpu"], where["os"],
                                         Version(torch) if torch else None, cxx11, **system)
    return [v.variant_str for v in accepted], {d.variant.variant_str: d for d in trace}, trace


def reasons(trace_by_name: dict) -> dict[str, str]:
    return {name: d.reason for name, d in trace_by_name.items() if isinstance(d, VariantRejected)}


def test_trace_has_one_entry_per_input_accepted_first_in_preference_order() -> None:
    names = ["torch-universal", "torch213-cxx11-cu126-x86_64-linux", "torch-cpu", "torch213-cxx11-cpu-x86_64-linux"]
    accepted, _, trace = resolve(names)
    assert accepted == ["torch213-cxx11-cpu-x86_64-linux", "torch-cpu", "torch-universal"]
    assert [d.variant_str for d in trace[:3]] == accepted
    assert [d.rank for d in trace[:3]] == [0, 1, 2]
    assert sorted(d.variant_str for d in trace) == sorted(names)
    assert isinstance(trace[3], VariantRejected) and trace[3].variant_str == "torch213-cxx11-cu126-x86_64-linux"


@pytest.mark.parametrize(("system", "expected"), [
    ("12.9", "torch213-cxx11-cu128-x86_64-linux"),  # highest minor at most the system's
    ("12.8", "torch213-cxx11-cu128-x86_64-linux"),
    ("12.6", "torch213-cxx11-cu126-x86_64-linux"),
    ("13.1", "torch213-cxx11-cu130-x86_64-linux"),
])
def test_cuda_same_major_and_minor_at_most_the_systems(system: str, expected: str) -> None:
    names = [f"torch213-cxx11-cu{v}-x86_64-linux" for v in ("126", "128", "130")]
    accepted, _, _ = resolve(names, CUDA(Version(system)))
    assert accepted[0] == expected


def test_cuda_rejections_name_the_versions() -> None:
    names = ["torch213-cxx11-cu126-x86_64-linux", "torch213-cxx11-cu129-x86_64-linux",
             "torch213-cxx11-cu118-x86_64-linux"]
    accepted, by_name, _ = resolve(names, CUDA(Version("12.8")))
    assert accepted == ["torch213-cxx11-cu126-x86_64-linux"]
    assert reasons(by_name) == {
        "torch213-cxx11-cu129-x86_64-linux": "built for CUDA 12.9, newer than this system's CUDA 12.8",
        "torch213-cxx11-cu118-x86_64-linux": "built for CUDA 11.8 instead of CUDA 12.8",
    }


def test_rocm_matches_like_cuda_and_xpu_exactly() -> None:
    rocm = ["torch213-cxx11-rocm70-x86_64-linux", "torch213-cxx11-rocm71-x86_64-linux",
            "torch213-cxx11-rocm72-x86_64-linux"]
    assert resolve(rocm, ROCm(Version("7.1")))[0] == ["torch213-cxx11-rocm71-x86_64-linux",
                                                        "torch213-cxx11-rocm70-x86_64-linux"]
    xpu = ["torch213-cxx11-xpu20252-x86_64-linux", "torch213-cxx11-xpu20253-x86_64-linux"]
    accepted, by_name, _ = resolve(xpu, XPU(Version("2025.3")))
    assert accepted == ["torch213-cxx11-xpu20253-x86_64-linux"]
    assert reasons(by_name) == {"torch213-cxx11-xpu20252-x86_64-linux": "built for XPU 2025.2 instead of XPU 2025.3"}


def test_tagless_linux_torch_is_accepted_whatever_the_abi_and_preferred() -> None:
    names = ["torch213-cxx11-cu128-x86_64-linux", "torch213-cu126-x86_64-linux", "torch213-cxx98-cu128-x86_64-linux"]
    accepted, by_name, _ = resolve(names, CUDA(Version("12.8")), cxx11=True)
    assert accepted == ["torch213-cu126-x86_64-linux", "torch213-cxx11-cu128-x86_64-linux"]
    assert reasons(by_name) == {"torch213-cxx98-cu128-x86_64-linux": "built for C++ ABI cxx98 instead of cxx11"}
    accepted, _, _ = resolve(names, CUDA(Version("12.8")), cxx11=False)
    assert accepted == ["torch213-cu126-x86_64-linux", "torch213-cxx98-cu128-x86_64-linux"]


def test_versioned_torch_needs_the_same_major_minor() -> None:
    accepted, by_name, _ = resolve(["torch212-cxx11-cpu-x86_64-linux", "torch213-cxx11-cpu-x86_64-linux"],
                                   torch="2.13.1")
    assert accepted == ["torch213-cxx11-cpu-x86_64-linux"]
    assert reasons(by_name) == {"torch212-cxx11-cpu-x86_64-linux": "built for Torch 2.12 instead of 2.13.1"}


def test_stable_abi_up_to_torch_newest_first_and_before_versioned_torch() -> None:
    names = ["torch-stable-abi29-cpu-x86_64-linux", "torch-stable-abi211-cpu-x86_64-linux",
             "torch-stable-abi212-cpu-x86_64-linux", "torch211-cxx11-cpu-x86_64-linux"]
    accepted, by_name, _ = resolve(names, torch="2.11")
    assert accepted == ["torch-stable-abi211-cpu-x86_64-linux", "torch-stable-abi29-cpu-x86_64-linux",
                        "torch211-cxx11-cpu-x86_64-linux"]
    assert reasons(by_name) == {"torch-stable-abi212-cpu-x86_64-linux":
                                "built for Torch stable ABI 2.12, newer than Torch 2.11"}
    assert resolve(names[:1], torch=None)[0] == []


def test_tvm_ffi_needs_the_installed_version_exactly() -> None:
    names = ["tvm-ffi01-cpu-x86_64-linux", "tvm-ffi02-cpu-x86_64-linux", "torch213-cxx11-cpu-x86_64-linux",
             "torch-cpu"]
    accepted, by_name, _ = resolve(names, tvm_ffi_version=Version("0.1"))
    assert accepted == ["torch213-cxx11-cpu-x86_64-linux", "tvm-ffi01-cpu-x86_64-linux", "torch-cpu"]
    assert reasons(by_name) == {"tvm-ffi02-cpu-x86_64-linux": "built for tvm-ffi 0.2 instead of 0.1"}
    _, by_name, _ = resolve(names[:1])
    assert reasons(by_name) == {"tvm-ffi01-cpu-x86_64-linux":
                                "built for tvm-ffi 0.1 instead of none (tvm-ffi is not installed)"}


def test_full_preference_order() -> None:
    names = ["torch-universal", "torch-cuda", "tvm-ffi01-cu128-x86_64-linux", "torch213-cxx11-cu128-x86_64-linux",
             "torch213-cu126-x86_64-linux", "torch-stable-abi212-cu126-x86_64-linux",
             "torch-stable-abi213-cu126-x86_64-linux"]
    accepted, _, _ = resolve(names, CUDA(Version("12.9")), tvm_ffi_version=Version("0.1"))
    assert accepted == ["torch-stable-abi213-cu126-x86_64-linux", "torch-stable-abi212-cu126-x86_64-linux",
                        "torch213-cu126-x86_64-linux", "torch213-cxx11-cu128-x86_64-linux",
                        "tvm-ffi01-cu128-x86_64-linux", "torch-cuda", "torch-universal"]


@pytest.mark.parametrize("macos", [Version("15.7"), None])
def test_metal_arch_builds_need_macos_26(macos: Optional[Version]) -> None:
    names = ["torch213-metal-aarch64-darwin", "torch-metal"]
    accepted, by_name, _ = resolve(names, Metal(), cpu="aarch64", os="darwin", cxx11=None, macos_version=macos)
    assert accepted == ["torch-metal"]
    assert "require macOS 26.0" in reasons(by_name)["torch213-metal-aarch64-darwin"]
    accepted, _, _ = resolve(names, Metal(), cpu="aarch64", os="darwin", cxx11=None, macos_version=Version("26.0"))
    assert accepted == names


def test_cpu_and_os_must_match() -> None:
    names = ["torch213-cxx11-cpu-aarch64-linux", "torch213-cpu-x86_64-darwin", "torch213-cxx11-cpu-x86_64-linux"]
    accepted, by_name, _ = resolve(names)
    assert accepted == ["torch213-cxx11-cpu-x86_64-linux"]
    assert reasons(by_name) == {"torch213-cxx11-cpu-aarch64-linux": "built for CPU architecture aarch64 instead of x86_64",
                                "torch213-cpu-x86_64-darwin": "built for OS darwin instead of linux"}


def test_noarch_of_the_backend_then_universal() -> None:
    accepted, by_name, _ = resolve(["torch-universal", "torch-rocm", "torch-cuda"], CUDA(Version("12.8")))
    assert accepted == ["torch-cuda", "torch-universal"]
    assert reasons(by_name) == {"torch-rocm": "Python-only build for backend rocm, but this environment uses backend cuda"}


def test_mlx_noarch_needs_mlx() -> None:
    assert resolve(["mlx-metal"], Metal(), has_mlx=True)[0] == ["mlx-metal"]
    assert reasons(resolve(["mlx-metal"], Metal(), has_mlx=False)[1]) == {
        "mlx-metal": "MLX build, but MLX is not installed"}


NEW_FORMAT = ["torch-2.13-cxx11-cpu-cpython-3.9-abi3-x86_64-linux",
              "torch-2.13-cxx11-cpu-cpython-3.12-abi3-x86_64-linux",
              "torch-2.13-cxx11-cpu-cpython-3.15-abi3t-x86_64-linux"]


def test_new_format_names_minimum_python_highest_first_abi3_before_abi3t() -> None:
    accepted, by_name, _ = resolve(NEW_FORMAT, python_version=Version("3.11"))
    assert accepted == [NEW_FORMAT[0]]
    assert reasons(by_name)[NEW_FORMAT[1]] == "built for Python 3.12 or later instead of 3.11"
    accepted, _, _ = resolve(NEW_FORMAT, python_version=Version("3.15"))
    assert accepted == [NEW_FORMAT[1], NEW_FORMAT[0], NEW_FORMAT[2]]


def test_free_threaded_python_loads_abi3t_only() -> None:
    accepted, by_name, _ = resolve(NEW_FORMAT + ["torch213-cxx11-cpu-x86_64-linux"], python_version=Version("3.15"),
                                   free_threaded=True)
    assert accepted == [NEW_FORMAT[2]]
    assert reasons(by_name)["torch213-cxx11-cpu-x86_64-linux"] == (
        "built for Python ABI abi3, which free-threaded Python cannot load (it needs abi3t)")


def test_new_and_legacy_names_follow_the_same_rules() -> None:
    names = ["torch-2.13-cuda-12.9-cpython-3.9-abi3-x86_64-linux", "torch-2.13-cuda-12.6-cpython-3.9-abi3-x86_64-linux",
             "torch-stable-abi-2.12-cuda-12.6-cpython-3.9-abi3-x86_64-linux"]
    accepted, _, _ = resolve(names, CUDA(Version("12.8")))
    assert accepted == [names[2], names[1]]


def test_accepted_decision_objects_carry_variant_objects() -> None:
    _, _, trace = resolve(["torch-cpu"])
    assert trace == [VariantAccepted(parse_variant("torch-cpu"), 0)]
    assert trace[0].variant.backend.backend_name == "cpu"


def test_decide_applies_the_rules_to_an_environment_and_ranks_stably() -> None:
    from kernels.environment import Environment
    from kernels.selection import decide

    env = Environment(torch_version="2.13.0", cxx11_abi=True, backend="cuda", compute="cu129", arch="x86_64",
                      os="linux", toolkit=Version("12.9"), python_version=Version("3.11"), free_threaded=False)
    names = ["torch-universal", "torch213-cxx11-cu128-x86_64-linux", "torch-stable-abi212-cu126-x86_64-linux",
             "torch213-cxx11-cu130-x86_64-linux"]
    decisions = decide(names, environment=env)
    # Ranks count the environment's standard candidates (cu129 build, torch-cuda) even when absent.
    assert decisions[:3] == [VariantAccepted("torch-stable-abi212-cu126-x86_64-linux", 0),
                             VariantAccepted("torch213-cxx11-cu128-x86_64-linux", 2),
                             VariantAccepted("torch-universal", 4)]
    assert decisions[3] == VariantRejected("torch213-cxx11-cu130-x86_64-linux",
                                           "built for CUDA 13.0 instead of CUDA 12.9")


def test_local_loading_picks_the_preferred_directory(tmp_path) -> None:
    from kernels.environment import current_environment
    from kernels.loader import select_variant

    env = current_environment("cpu")
    tag = f"torch{env.torch_tag[5:]}"
    for name in (f"{tag}-cxx11-cpu-{env.arch}-{env.os}", f"{tag}-cpu-{env.arch}-{env.os}", "torch-cpu",
                 "not-a-variant"):
        (tmp_path / name).mkdir()
    assert select_variant(tmp_path, backend="cpu").name == f"{tag}-cpu-{env.arch}-{env.os}"
