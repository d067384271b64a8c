"""Variant decisions (kernels.selection): accepted first, rejections say what does not match."""

from __future__ import annotations

from kernels import VariantAccepted, VariantRejected
from kernels.selection import decide, describe_compute, environment_summary
from kernels.variants import current_environment, current_variant


def test_accepted_variants_come_first_most_preferred_leading() -> None:
    here = current_variant("cpu")
    decisions = decide(["torch-universal", "torch-cpu", here, "torch-cuda"], "cpu")
    assert decisions[:3] == [VariantAccepted(here, 0), VariantAccepted("torch-cpu", 1),
                             VariantAccepted("torch-universal", 2)]
    assert decisions[3] == VariantRejected(
        "torch-cuda", "Python-only build for backend cuda, but this environment uses backend cpu")
    assert decisions[0].variant_str == here


def test_rejections_name_every_mismatch() -> None:
    env = current_environment("cpu")
    major, minor = env.torch_version.split(".")[:2]
    tag = f"torch{major}{minor}"
    other_arch = "aarch64" if env.arch == "x86_64" else "x86_64"
    cases = {
        f"torch27-cxx11-cu118-{env.arch}-linux":
            f"built for backend cuda (CUDA 11.8) instead of cpu (CPU), Torch 2.7 instead of {env.torch_version}",
        f"{tag}-cxx98-cpu-{env.arch}-linux": "built for C++ ABI cxx98 instead of cxx11",
        f"{tag}-cxx11-cpu-{other_arch}-linux": f"built for CPU architecture {other_arch} instead of {env.arch}",
        f"{tag}-metal-aarch64-darwin":
            "built for backend metal (Metal) instead of cpu (CPU)"
            + (", CPU architecture aarch64 instead of x86_64" if env.arch == "x86_64" else "")
            + ", OS darwin instead of linux",
        f"{tag}-stable-cpu-{env.arch}-linux": "built for the Torch stable ABI, which this loader does not support yet",
        "not-a-variant": "'not-a-variant' is not a build variant name",
    }
    decisions = decide(cases, "cpu", problems={})
    assert all(isinstance(d, VariantRejected) for d in decisions)
    assert {d.variant: d.reason for d in decisions} == cases
    assert [d.variant for d in decisions] == sorted(cases)


def test_problems_reject_otherwise_compatible_variants() -> None:
    here = current_variant("cpu")
    assert decide([here], "cpu", {here: "incomplete build variant: no metadata.json"}) == [
        VariantRejected(here, "incomplete build variant: no metadata.json")]


def test_describe_compute_and_environment_summary() -> None:
    assert [describe_compute(c) for c in ("cu126", "cu130", "rocm71", "xpu20253", "cpu", "metal")] == [
        "CUDA 12.6", "CUDA 13.0", "ROCm 7.1", "XPU 2025.3", "CPU", "Metal"]
    env = current_environment("cpu")
    assert environment_summary("cpu") == (f"Torch {env.torch_version}, C++ ABI cxx11, backend cpu (CPU), "
                                          f"{env.arch}-linux")
