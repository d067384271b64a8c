"""kernels.backends and kernels.variants: the registry, backend values and the one variant type."""

from __future__ import annotations

import pytest
from packaging.version import Version

from kernels._data import load_lib_json
from kernels.backends import (
    CANN, CPU, CUDA, TPU, XPU, Metal, Neuron, RegistryError, ROCm, backend_value, parse_backend, registry,
    registry_from_data,
)
from kernels.selection import VariantAccepted, VariantRejected
from kernels.variants import (
    ArchVariant, NoarchVariant, Python, System, Torch, TorchStableAbi, TvmFfi, UnknownVariant, arch_variant,
    noarch_variant, parse_variant, parse_variant_or_none,
)

NAMES = [
    "torch213-cxx11-cu130-x86_64-linux",
    "torch29-cxx98-rocm71-x86_64-linux",
    "torch212-cxx11-xpu20253-x86_64-linux",
    "torch213-cpu-x86_64-linux",  # tagless
    "torch213-metal-aarch64-darwin",
    "torch-stable-abi211-cu128-aarch64-linux",
    "tvm-ffi01-cu128-x86_64-linux",
    "tvm-ffi012-metal-aarch64-darwin",
    "torch-2.13-cxx11-cuda-13.0-cpython-3.9-abi3-x86_64-linux",
    "torch-2.13-cpu-cpython-3.15-abi3t-aarch64-linux",
    "torch-stable-abi-2.11-rocm-7.1-cpython-3.10-abi3-x86_64-linux",
    "tvm-ffi-0.1-xpu-2025.3-cpython-3.9-abi3-x86_64-linux",
    "torch-cpu", "torch-cuda", "torch-rocm", "torch-xpu", "torch-metal", "torch-neuron", "torch-npu",
    "torch-tpu", "torch-universal", "mlx-metal",
]


def test_registry_records_describe_each_backend() -> None:
    reg = registry()
    assert reg.names() == ("cann", "cpu", "cuda", "metal", "neuron", "rocm", "tpu", "xpu")
    assert reg.kernel_section_names() == ("cpu", "cuda", "metal", "rocm", "xpu")
    assert reg.get("rocm").torch_device == "cuda" and reg.get("metal").torch_device == "mps"
    assert reg.get("cann").noarch_variant == "torch-npu"
    assert [reg.get(b).format_tag(v) for b, v in [("cpu", None), ("cuda", "13.0"), ("rocm", "7.1"),
                                                   ("xpu", "2025.3"), ("metal", None)]] == [
        "cpu", "cu130", "rocm71", "xpu20253", "metal"]
    assert reg.get("cuda").format_tag("12.8", legacy=False) == "cuda-12.8"
    assert reg.parse_tag("cu126") == (reg.get("cuda"), Version("12.6"))
    with pytest.raises(ValueError, match="unknown backend 'vulkan'"):
        reg.get("vulkan")


def test_malformed_registry_data_names_the_key() -> None:
    with pytest.raises(RegistryError, match="backends.cpu: missing key 'abi-policy'"):
        registry_from_data({"backends": {"cpu": {"label": "CPU"}}})
    record = dict(load_lib_json("backends")["backends"]["cpu"], archs="no")
    with pytest.raises(RegistryError, match="backends.cpu.archs must be true or false"):
        registry_from_data({"backends": {"cpu": record}})
    with pytest.raises(RegistryError, match="'backends' must be a non-empty object"):
        registry_from_data({"buildable": ["cpu"]})


def test_backend_values_as_upstream_has_them() -> None:
    assert CUDA(Version("12.8")).variant_str == "cu128" and CUDA(Version("12.8")).name == "cuda"
    assert [b.variant_str for b in (CPU(), Metal(), Neuron(), TPU())] == ["cpu", "metal", "neuron", "tpu"]
    assert ROCm(Version("7.1")).variant_str == "rocm71" and XPU(Version("2025.3")).variant_str == "xpu20253"
    assert CANN(Version("8.1")).variant_str == "cann81"
    assert CUDA(Version("12.8")) == CUDA(Version("12.8"), legacy=False) != CUDA(Version("12.6"))
    assert CPU() == CPU() and CPU() != Metal() and len({CPU(), CPU(), Metal()}) == 2
    assert parse_backend(["cuda", "12.8"], legacy=False) == CUDA(Version("12.8"))
    assert backend_value("rocm", "7.2") == ROCm(Version("7.2"))
    with pytest.raises(ValueError, match="needs a toolkit version"):
        backend_value("cuda")


@pytest.mark.parametrize("name", NAMES)
def test_every_variant_name_round_trips(name: str) -> None:
    variant = parse_variant(name)
    assert variant.variant_str == name
    assert variant == parse_variant(name) and hash(variant) == hash(parse_variant(name))
    assert isinstance(variant, NoarchVariant) == variant.noarch


def test_parsed_parts() -> None:
    cuda = parse_variant("torch213-cxx11-cu130-x86_64-linux")
    assert cuda == ArchVariant(Torch(Version("2.13"), True), CUDA(Version("13.0")), Python(), System("x86_64", "linux"))
    assert parse_variant("torch213-metal-aarch64-darwin").framework == Torch(Version("2.13"), None)
    stable = parse_variant("torch-stable-abi-2.11-rocm-7.1-cpython-3.10-abi3-x86_64-linux")
    assert isinstance(stable, ArchVariant) and stable.framework == TorchStableAbi(Version("2.11"))
    assert stable.backend == ROCm(Version("7.1")) and stable.python.version == Version("3.10")
    assert parse_variant("tvm-ffi01-cu128-x86_64-linux").framework == TvmFfi(Version("0.1"))
    assert parse_variant("torch-npu").backend_name == "cann"
    assert parse_variant("torch-universal").backend_name == "universal"


@pytest.mark.parametrize("name", ["foo", "jax-cpu", "torch", "torch213-cxx11-cu130", "torch213-cxx11-vk12-x86_64-linux",
                                  "torch-2.13-cpu-x86_64-linux", "torch-2.13-cpu-cpython-3.9-abi4-x86_64-linux"])
def test_bad_names_raise_and_the_non_raising_form_says_none(name: str) -> None:
    with pytest.raises(ValueError):
        parse_variant(name)
    assert parse_variant_or_none(name) is None


def test_python_only_names_of_no_backend_parse_but_are_not_directory_variants() -> None:
    assert parse_variant("torch-ext").variant_str == "torch-ext"
    assert parse_variant_or_none("torch-ext") is None and parse_variant_or_none("torch-npu") == "torch-npu"


def test_unknown_framework_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown framework"):
        parse_variant("jax04-cu128-x86_64-linux")


def test_formatting_for_the_builder() -> None:
    assert arch_variant("2.13.0", "cuda", "13.0", "x86_64", "linux").variant_str == "torch213-cxx11-cu130-x86_64-linux"
    assert arch_variant("2.12", "cpu", None, "x86_64", "linux", cxx11_abi=False).variant_str == \
        "torch212-cxx98-cpu-x86_64-linux"
    assert arch_variant("2.13", "metal", None, "aarch64", "darwin").variant_str == "torch213-metal-aarch64-darwin"
    assert arch_variant("2.13", "cpu", None, "x86_64", "linux", cxx11_abi=None).variant_str == \
        "torch213-cpu-x86_64-linux"
    assert arch_variant("2.13", "cuda", "12.8", "x86_64", "linux", legacy=False).variant_str == \
        "torch-2.13-cxx11-cuda-12.8-cpython-3.9-abi3-x86_64-linux"
    assert [noarch_variant(b).variant_str for b in ("cpu", "cann", "universal")] == [
        "torch-cpu", "torch-npu", "torch-universal"]


def test_decisions_carry_variant_objects_equal_to_their_names() -> None:
    accepted = VariantAccepted("torch213-cxx11-cpu-x86_64-linux", 0)
    assert isinstance(accepted.variant, ArchVariant)
    assert accepted.variant.variant_str == accepted.variant_str == "torch213-cxx11-cpu-x86_64-linux"
    assert accepted.variant == "torch213-cxx11-cpu-x86_64-linux"
    rejected = VariantRejected("not-a-variant", "no")
    assert rejected.variant == UnknownVariant("not-a-variant") and rejected.variant_str == "not-a-variant"
    assert sorted([parse_variant("torch-cpu"), "torch-cann", parse_variant("mlx-metal")]) == [
        "mlx-metal", "torch-cann", "torch-cpu"]
