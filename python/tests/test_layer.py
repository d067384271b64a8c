"""Layers and kernelize: extensible layers, kernel mappings, modes, devices, validation.

Every kernel here is a small pure-Python build written to tmp_path and loaded
through LocalLayerRepository / LocalFuncRepository, or through the Hub
repository classes with LOCAL_KERNELS, so no test needs the network or a GPU.
GPU capabilities are simulated by replacing ``kernels.layer.device.device_capability``.
"""

from __future__ import annotations

import inspect
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any, Optional

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import kernels
from kernels import (
    CUDAProperties,
    Device,
    FuncRepository,
    KernelizeFallback,
    LayerRepository,
    LocalFuncRepository,
    LocalLayerRepository,
    LockedFuncRepository,
    LockedLayerRepository,
    Mode,
    ROCMProperties,
    kernelize,
    register_kernel_mapping,
    replace_kernel_forward_from_hub,
    use_kernel_forward_from_hub,
    use_kernel_func_from_hub,
    use_kernel_mapping,
    use_kernelized_func,
)
from kernels.layer import KernelizeError, KernelLayerNotFoundError, LayerValidationError
from kernels.layer import device as layer_device
from kernels.layer import _kernelize as kernelize_module
from kernels.layer import mapping as layer_mapping
from kernels.layer.mapping import MappingEntry, current_mapping, select_entry
from kernels.lockfile import LockfileError, find_lock, parse_lockfile

I, T, C, FB = Mode.INFERENCE, Mode.TRAINING, Mode.TORCH_COMPILE, Mode.FALLBACK

# name -> (factor, has_backward, can_torch_compile); None leaves the attribute out.
LAYERS: dict[str, tuple[int, Optional[bool], Optional[bool]]] = {
    "Full10": (10, True, True),
    "Inference20": (20, False, None),
    "Backward30": (30, None, None),
    "CompileNoBackward40": (40, False, True),
    "ModeA": (101, True, True),
    "ModeB": (102, True, True),
    "ModeC": (103, True, True),
    "ModeD": (104, True, True),
    "ModeE": (105, True, True),
}

INVALID_LAYERS = '''
class NotAModule:
    def forward(self, x):
        return x


class WithInit(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x


class InheritedInit(nn.Linear):
    def forward(self, x):
        return x


class WithClassVariable(nn.Module):
    scale = 2

    def forward(self, x):
        return x * self.scale


class WithMethod(nn.Module):
    def helper(self, x):
        return x

    def forward(self, x):
        return self.helper(x)


class WithStaticMethod(nn.Module):
    @staticmethod
    def helper(x):
        return x

    def forward(self, x):
        return x


class NoForward(nn.Module):
    has_backward = True


class TooManyParameters(nn.Module):
    def forward(self, x, y):
        return x


class WrongParameterKind(nn.Module):
    def forward(self, *x):
        return x[0]


class AnnotatedState(nn.Module):
    weight: torch.Tensor
    can_torch_compile = True

    def forward(self, x):
        return x * self.weight * 7
'''

KERNEL_FUNCTIONS = '''
import torch.nn.functional as F


def times3(x):
    return x * 3


times3.can_torch_compile = True


def silu_and_mul(x):
    d = x.shape[-1] // 2
    return F.silu(x[..., :d]) * x[..., d:] * 100


def two_args(x, y):
    return x + y
'''


def layer_source(name: str, factor: int, has_backward: Optional[bool], can_torch_compile: Optional[bool]) -> str:
    lines = [f"class {name}(nn.Module):", "    weight: torch.Tensor"]
    if has_backward is not None:
        lines.append(f"    has_backward = {has_backward}")
    if can_torch_compile is not None:
        lines.append(f"    can_torch_compile = {can_torch_compile}")
    lines += ["", "    def forward(self, x):", f"        return x * self.weight * {factor}", "", ""]
    return "\n".join(lines)


def write_kernel(
    root: Path, *, layers: Optional[str] = None, init: str = KERNEL_FUNCTIONS, variant: str = "torch-universal"
) -> Path:
    """A kernel project at ``root`` with one pure-Python variant; returns ``root``."""
    variant_dir = root / "build" / variant
    variant_dir.mkdir(parents=True)
    metadata = {"id": "_fake_kernel_layers_0", "name": "fake-kernel-layers", "version": 1, "license": "Apache-2.0",
                "backend": {"type": "cpu"}}
    (variant_dir / "metadata.json").write_text(json.dumps(metadata))
    if layers is None:
        layers = "".join(layer_source(n, *spec) for n, spec in LAYERS.items()) + INVALID_LAYERS
    (variant_dir / "layers.py").write_text("import torch\nfrom torch import nn\n\n\n" + layers)
    (variant_dir / "__init__.py").write_text("from . import layers\n" + init)
    return root


@pytest.fixture(autouse=True)
def _isolate_layer_state(monkeypatch: pytest.MonkeyPatch):
    """Each test starts without mappings, outside any scope, with DISABLE_KERNEL_MAPPING unset."""
    monkeypatch.setattr(layer_mapping, "_global", {})
    monkeypatch.delenv("DISABLE_KERNEL_MAPPING", raising=False)
    token = layer_mapping._scoped.set(None)
    yield
    layer_mapping._scoped.reset(token)


@pytest.fixture
def kernel(tmp_path: Path) -> Path:
    return write_kernel(tmp_path / "kernel")


@pytest.fixture
def capability(monkeypatch: pytest.MonkeyPatch):
    """``capability(86)`` makes kernelize see a GPU of that capability; records the requests."""
    calls: list[tuple[str, Optional[int]]] = []

    def set_capability(value: Optional[int]) -> list[tuple[str, Optional[int]]]:
        def fake(device_type: str, index: Optional[int] = None) -> Optional[int]:
            calls.append((device_type, index))
            return value

        monkeypatch.setattr(layer_device, "device_capability", fake)
        return calls

    return set_capability


@use_kernel_forward_from_hub("Scale")
class Scale(nn.Module):
    def __init__(self, n: int = 4) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


class PlainScale(nn.Module):
    def __init__(self, n: int = 4) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


@use_kernel_forward_from_hub("SiluAndMul")
class SiluAndMul(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1] // 2
        return F.silu(x[..., :d]) * x[..., d:]


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.scale = Scale()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(self.linear(x))


def factor(module: nn.Module) -> float:
    """What ``module`` multiplies a vector of ones by (1 for the original Scale forward)."""
    return module(torch.ones(4))[0].item()


def local(kernel: Path, layer: str) -> LocalLayerRepository:
    return LocalLayerRepository(kernel, layer_name=layer)


def scale_mapping(value: Any, device: Any = "cpu") -> dict:
    return {"Scale": {device: value}}


# --- Making layers extensible ------------------------------------------------------------------------


def test_decorator_only_annotates_the_class() -> None:
    assert Scale.kernel_layer_name == "Scale"
    assert set(vars(Scale)) - set(vars(PlainScale)) == {"kernel_layer_name"}
    torch.manual_seed(0)
    x = torch.randn(3, 4)
    layer, plain = Scale(), PlainScale()
    plain.load_state_dict(layer.state_dict())
    assert torch.equal(layer(x), plain(x))
    assert "forward" not in vars(layer)
    assert type(layer).forward is vars(Scale)["forward"]


def test_decorator_returns_the_class_and_rejects_bad_names() -> None:
    class Local(nn.Module):
        def forward(self, x):
            return x

    assert use_kernel_forward_from_hub("Local")(Local) is Local
    for bad in ("", 3, None):
        with pytest.raises(TypeError, match="kernel layer name must be a non-empty string"):
            use_kernel_forward_from_hub(bad)  # type: ignore[arg-type]


def test_replace_kernel_forward_from_hub_makes_an_external_class_extensible(kernel: Path) -> None:
    class External(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(4))

        def forward(self, x):
            return x * self.weight

    layer = External()
    assert replace_kernel_forward_from_hub(External, "External") is None
    assert External.kernel_layer_name == "External"
    assert factor(layer) == 1
    with use_kernel_mapping({"External": {"cpu": local(kernel, "Full10")}}):
        kernelize(layer, mode=I)
    assert factor(layer) == 10
    with pytest.raises(TypeError, match="expected a layer class"):
        replace_kernel_forward_from_hub(layer, "External")  # type: ignore[arg-type]


# --- kernelize basics --------------------------------------------------------------------------------


def test_kernelize_replaces_forward_in_place_and_returns_the_model(kernel: Path) -> None:
    model = Model()
    x = torch.randn(2, 4)
    expected = model(x) * 10
    register_kernel_mapping(scale_mapping(local(kernel, "Full10")))
    assert kernelize(model, mode=I) is model
    assert torch.allclose(model(x), expected)
    assert type(model.scale).forward is vars(Scale)["forward"]  # The class is untouched.
    assert factor(Scale()) == 1  # Other instances keep the original forward until kernelized.


def test_kernelize_rejects_bad_arguments(kernel: Path) -> None:
    model = Model()
    with pytest.raises(ValueError, match="Mode.FALLBACK can only be used as a key"):
        kernelize(model, mode=FB)
    with pytest.raises(ValueError, match="exactly one"):
        kernelize(model, mode=I | T)
    with pytest.raises(ValueError, match="exactly one"):
        kernelize(model, mode=C)
    with pytest.raises(TypeError, match="must be a kernels.Mode"):
        kernelize(model, mode="inference")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a torch.nn.Module"):
        kernelize("model", mode=I)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="use_fallback"):
        kernelize(model, mode=I, use_fallback="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kernelize(model, I)  # type: ignore[misc]  # mode is keyword-only


def test_the_model_itself_can_be_an_extensible_layer(kernel: Path) -> None:
    layer = Scale()
    with use_kernel_mapping(scale_mapping(local(kernel, "Full10"))):
        kernelize(layer, mode=I)
    assert factor(layer) == 10


# --- Modes and the fallback order ---------------------------------------------------------------------

CHAINS = {
    I: [I, I | C, T, T | C, FB],
    I | C: [I | C, T | C, FB],
    T: [T, T | C, FB],
    T | C: [T | C, FB],
}
MODE_LAYER = {I: "ModeA", I | C: "ModeB", T: "ModeC", T | C: "ModeD", FB: "ModeE"}


@pytest.mark.parametrize("mode", list(CHAINS), ids=str)
def test_each_mode_follows_the_documented_fallback_order(kernel: Path, mode: Mode) -> None:
    chain = CHAINS[mode]
    for start in range(len(chain)):
        repos = {m: local(kernel, MODE_LAYER[m]) for m in chain[start:]}
        model = Model()
        with use_kernel_mapping(scale_mapping(repos), inherit_mapping=False):
            kernelize(model, mode=mode)
        assert factor(model.scale) == LAYERS[MODE_LAYER[chain[start]]][0], (mode, chain[start:])


@pytest.mark.parametrize("mode", list(CHAINS), ids=str)
def test_modes_outside_the_chain_are_never_used(kernel: Path, mode: Mode) -> None:
    outside = [m for m in MODE_LAYER if m not in CHAINS[mode]]
    repos = {m: local(kernel, MODE_LAYER[m]) for m in outside}
    model = Model()
    with use_kernel_mapping(scale_mapping(repos)):
        kernelize(model, mode=mode)
        assert factor(model.scale) == 1
        if outside:
            with pytest.raises(KernelizeError, match=f"no kernel for mode {mode}"):
                kernelize(model, mode=mode, use_fallback=False)


def test_a_bare_repository_is_registered_for_fallback(kernel: Path) -> None:
    register_kernel_mapping(scale_mapping(local(kernel, "ModeE")))
    [entry] = current_mapping()["Scale"]["cpu"]
    assert dict(entry.repos) == {FB: local(kernel, "ModeE")}
    for mode in CHAINS:
        model = Model()
        kernelize(model, mode=mode)
        assert factor(model.scale) == 105


def test_documented_example_compile_modes_use_the_fallback_kernel(kernel: Path) -> None:
    # FALLBACK, INFERENCE and TRAINING registered: the compile modes get the FALLBACK kernel.
    repos = {FB: local(kernel, "ModeE"), I: local(kernel, "ModeA"), T: local(kernel, "ModeC")}
    expected = {I: 101, T: 103, I | C: 105, T | C: 105}
    with use_kernel_mapping(scale_mapping(repos)):
        for mode, value in expected.items():
            model = Model()
            kernelize(model, mode=mode)
            assert factor(model.scale) == value, mode


# --- has_backward / can_torch_compile ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "mode", "usable"),
    [
        ("Inference20", I, True),  # Inference needs neither backward nor compile support.
        ("Inference20", T, False),  # has_backward = False
        ("Inference20", I | C, False),  # can_torch_compile absent means False
        ("Backward30", T, True),  # has_backward absent means True
        ("Backward30", T | C, False),
        ("CompileNoBackward40", I | C, True),
        ("CompileNoBackward40", T | C, False),
        ("Full10", T | C, True),
    ],
)
def test_kernels_are_only_used_in_modes_they_support(kernel: Path, layer: str, mode: Mode, usable: bool) -> None:
    model = Model()
    with use_kernel_mapping(scale_mapping(local(kernel, layer))):
        kernelize(model, mode=mode)
        assert factor(model.scale) == (LAYERS[layer][0] if usable else 1)
        if usable:
            kernelize(model, mode=mode, use_fallback=False)
        else:
            with pytest.raises(KernelizeError, match="does not support") as info:
                kernelize(model, mode=mode, use_fallback=False)
            assert layer in str(info.value) and "`Scale`" in str(info.value)


def test_kernel_registered_for_a_mode_it_does_not_support_is_reported(
    kernel: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = Model()
    with use_kernel_mapping(scale_mapping({T: local(kernel, "Inference20")})):
        with caplog.at_level(logging.WARNING, logger="kernels"):
            kernelize(model, mode=T)
    assert factor(model.scale) == 1
    assert "is registered for `Scale` in mode TRAINING, which it does not support" in caplog.text


def test_training_kernel_gets_gradients(kernel: Path) -> None:
    model = Model()
    with use_kernel_mapping(scale_mapping(local(kernel, "Backward30"))):
        kernelize(model, mode=T)
    x = torch.ones(4)
    model.scale(x).sum().backward()
    assert torch.equal(model.scale.weight.grad, torch.full((4,), 30.0))


# --- Kernelizing again ---------------------------------------------------------------------------------


def test_kernelizing_again_redecides_from_the_original_forward(kernel: Path) -> None:
    model = Model()
    with use_kernel_mapping(scale_mapping(local(kernel, "Inference20"))):
        kernelize(model, mode=I)
        assert factor(model.scale) == 20
        kernelize(model, mode=T)  # Inference20 has no backward: back to the original forward.
        assert factor(model.scale) == 1
        assert "forward" not in vars(model.scale)
        kernelize(model, mode=I)
        assert factor(model.scale) == 20
    with use_kernel_mapping(scale_mapping(local(kernel, "Full10"))):
        kernelize(model, mode=T)
        assert factor(model.scale) == 10
    kernelize(model, mode=I)  # No mapping any more.
    assert factor(model.scale) == 1


def test_kernelize_keeps_forwards_it_did_not_install(kernel: Path) -> None:
    model = Model()
    model.scale.forward = lambda x: x * 1000  # E.g. a hook library's wrapper.
    kernelize(model, mode=I)
    assert factor(model.scale) == 1000


def test_kernelized_model_survives_deepcopy(kernel: Path) -> None:
    import copy

    model = Model()
    with use_kernel_mapping(scale_mapping(local(kernel, "Full10"))):
        kernelize(model, mode=I)
    clone = copy.deepcopy(model)
    assert factor(clone.scale) == 10
    kernelize(clone, mode=I)
    assert factor(clone.scale) == 1


# --- Devices -----------------------------------------------------------------------------------------


def test_device_is_inferred_from_parameters(kernel: Path) -> None:
    register_kernel_mapping({"Scale": {"cuda": local(kernel, "ModeA"), "cpu": local(kernel, "ModeB")}})
    model = Model()
    kernelize(model, mode=I)
    assert factor(model.scale) == 102


def test_device_is_inferred_from_buffers_without_parameters(kernel: Path) -> None:
    class Buffered(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("weight", torch.ones(4))
            self.act = SiluAndMul()

        def forward(self, x):
            return self.act(x)

    register_kernel_mapping({"SiluAndMul": {"cpu": LocalFuncRepository(kernel, func_name="silu_and_mul")}})
    model = Buffered()
    kernelize(model, mode=I)
    x = torch.randn(2, 4)
    assert torch.allclose(model(x), SiluAndMul()(x) * 100)


def test_device_must_be_given_when_it_cannot_be_inferred(kernel: Path) -> None:
    model = nn.Sequential(SiluAndMul())
    with pytest.raises(ValueError, match="cannot infer the device .* pass device="):
        kernelize(model, mode=I)
    register_kernel_mapping({"SiluAndMul": {"cuda": LocalFuncRepository(kernel, func_name="silu_and_mul")}})
    kernelize(model, mode=I, device="cuda")  # The test kernel is pure Python, so it also runs on CPU.
    x = torch.randn(3, 4)
    assert torch.allclose(model(x), SiluAndMul()(x) * 100)


@pytest.mark.parametrize(
    ("device", "expected"),
    [("cpu", "cpu"), ("cuda", "cuda"), ("rocm", "rocm"), ("mps", "mps"), ("xpu", "xpu"), ("npu", "npu"),
     (torch.device("cpu"), "cpu"), ("cuda:1", "cuda"), (Device("xpu"), "xpu")],
    ids=str,
)
def test_device_argument_forms(kernel: Path, device: Any, expected: str) -> None:
    register_kernel_mapping({"Scale": {expected: local(kernel, "ModeC"), "cpu" if expected != "cpu" else "mps":
                                       local(kernel, "ModeA")}})
    model = Model()
    kernelize(model, mode=I, device=device)
    assert factor(model.scale) == 103


def test_device_index_is_passed_to_the_capability_lookup(kernel: Path, capability) -> None:
    calls = capability(90)
    register_kernel_mapping(scale_mapping(local(kernel, "ModeA"), Device("cuda", CUDAProperties(80, 100))))
    kernelize(Model(), mode=I, device="cuda:1")
    assert calls == [("cuda", 1)]


@pytest.mark.parametrize("device", ["ipu", "meta", "cdua"])
def test_unsupported_devices_are_rejected(device: str) -> None:
    with pytest.raises(ValueError, match="unsupported device"):
        kernelize(Model(), mode=I, device=device)
    with pytest.raises(TypeError, match="'device' must be"):
        kernelize(Model(), mode=I, device=3)  # type: ignore[arg-type]


def test_meta_model_is_rejected() -> None:
    with torch.device("meta"):
        model = Model()
    with pytest.raises(ValueError, match="unsupported device type 'meta'"):
        kernelize(model, mode=I)


def test_cuda_tensors_on_rocm_torch_are_rocm(monkeypatch: pytest.MonkeyPatch) -> None:
    assert kernelize_module._device_type_of(torch.device("cuda")) == "cuda" or torch.version.hip
    monkeypatch.setattr(torch.version, "hip", "6.3.0", raising=False)
    assert kernelize_module._device_type_of(torch.device("cuda", 0)) == "rocm"
    assert kernelize_module._resolve_target(Model(), torch.device("cuda", 1)).device_type == "rocm"
    assert kernelize_module._resolve_target(Model(), "cuda").device_type == "cuda"


def test_device_and_properties_validation() -> None:
    assert Device("cuda") == Device(type="cuda") and hash(Device("cuda")) == hash(Device("cuda"))
    assert Device("cuda", CUDAProperties(75, 89)) != Device("cuda", CUDAProperties(75, 90))
    assert CUDAProperties() == CUDAProperties(0, sys.maxsize)
    assert Device("tpu").type == "tpu"  # transformers lists tpu as a device type, as upstream does
    with pytest.raises(ValueError, match="unsupported device type 'ipu'"):
        Device("ipu")
    with pytest.raises(ValueError, match="must be CUDAProperties"):
        Device("cuda", ROCMProperties(90, 90))
    with pytest.raises(ValueError, match="must be ROCMProperties"):
        Device("rocm", CUDAProperties(90, 90))
    with pytest.raises(ValueError, match="takes no properties"):
        Device("mps", CUDAProperties(90, 90))
    with pytest.raises(ValueError, match="larger than 'max_capability'"):
        CUDAProperties(min_capability=90, max_capability=80)
    with pytest.raises(ValueError, match="non-negative integer"):
        ROCMProperties(min_capability=-1, max_capability=80)
    with pytest.raises(ValueError, match="non-negative integer"):
        CUDAProperties(min_capability=8.0, max_capability=80)  # type: ignore[arg-type]


# --- Capabilities ------------------------------------------------------------------------------------


def entry(low: int, high: int, order: int, device: str = "cuda") -> MappingEntry:
    props = CUDAProperties(low, high) if device == "cuda" else ROCMProperties(low, high)
    return MappingEntry(device=Device(device, props), repos={FB: f"{low}..{high}"}, order=order)


def test_select_entry_picks_the_smallest_covering_interval() -> None:
    a, b, c = entry(75, 89, 0), entry(80, 89, 1), entry(90, sys.maxsize, 2)
    entries = (a, b, c)
    assert select_entry(entries, 86) is b
    assert select_entry(entries, 80) is b  # Inclusive lower bound.
    assert select_entry(entries, 89) is b  # Inclusive upper bound.
    assert select_entry(entries, 79) is a
    assert select_entry(entries, 75) is a
    assert select_entry(entries, 90) is c
    assert select_entry(entries, 74) is None
    assert select_entry(entries, None) is None  # Unknown capability: only unrestricted entries.
    full = MappingEntry(device=Device("cuda"), repos={}, order=3)
    assert select_entry(entries + (full,), None) is full
    assert select_entry(entries + (full,), 70) is full
    assert select_entry(entries + (full,), 86) is b
    # Equally small intervals: the most recently registered one.
    d, e = entry(80, 85, 5), entry(82, 87, 6)
    assert select_entry((d, e), 83) is e
    assert select_entry((e, d), 83) is e


@pytest.mark.parametrize(("cap", "expected"), [(86, 102), (75, 101), (79, 101), (80, 102), (89, 102), (90, 103),
                                               (121, 103), (70, 1)])
def test_kernelize_selects_by_cuda_capability(kernel: Path, capability, cap: int, expected: int) -> None:
    capability(cap)
    register_kernel_mapping({"Scale": {
        Device("cuda", CUDAProperties(75, 89)): local(kernel, "ModeA"),
        Device("cuda", CUDAProperties(min_capability=80, max_capability=89)): local(kernel, "ModeB"),
        Device("cuda", CUDAProperties(90, sys.maxsize)): local(kernel, "ModeC"),
    }})
    model = Model()
    kernelize(model, mode=I, device="cuda")
    assert factor(model.scale) == expected
    if expected == 1:
        with pytest.raises(KernelizeError, match="no cuda kernel for capability 70"):
            kernelize(model, mode=I, device="cuda", use_fallback=False)


def test_reregistering_the_same_capability_range_replaces(kernel: Path, capability) -> None:
    capability(86)
    register_kernel_mapping(scale_mapping(local(kernel, "ModeA"), Device("cuda", CUDAProperties(80, 89))))
    register_kernel_mapping(scale_mapping(local(kernel, "ModeB"), Device("cuda", CUDAProperties(75, 89))))
    register_kernel_mapping(scale_mapping(local(kernel, "ModeC"), Device("cuda", CUDAProperties(80, 89))))
    assert len(current_mapping()["Scale"]["cuda"]) == 2
    model = Model()
    kernelize(model, mode=I, device="cuda")
    assert factor(model.scale) == 103
    # A plain device string is the full range: registering it twice also replaces.
    register_kernel_mapping(scale_mapping(local(kernel, "ModeD"), "cuda"))
    register_kernel_mapping(scale_mapping(local(kernel, "ModeE"), Device("cuda")))
    assert len(current_mapping()["Scale"]["cuda"]) == 3


def test_unrestricted_entry_is_used_when_no_range_covers(kernel: Path, capability) -> None:
    register_kernel_mapping({"Scale": {
        "cuda": local(kernel, "ModeD"),
        Device("cuda", CUDAProperties(90, 90)): local(kernel, "ModeA"),
    }})
    for cap, expected in ((90, 101), (86, 104), (None, 104)):
        capability(cap)
        model = Model()
        kernelize(model, mode=I, device="cuda")
        assert factor(model.scale) == expected, cap


def test_capability_is_not_queried_without_restricted_entries(kernel: Path, capability) -> None:
    calls = capability(86)
    register_kernel_mapping(scale_mapping(local(kernel, "ModeA"), "cuda"))
    kernelize(Model(), mode=I, device="cuda")
    assert calls == []


def test_kernelize_selects_by_rocm_capability(kernel: Path, capability) -> None:
    register_kernel_mapping({"Scale": {
        Device("rocm", ROCMProperties(90, 94)): local(kernel, "ModeA"),
        Device("rocm", ROCMProperties(115, 115)): local(kernel, "ModeB"),
    }})
    for cap, expected in ((115, 102), (94, 101), (100, 1)):
        calls = capability(cap)
        model = Model()
        kernelize(model, mode=I, device="rocm")
        assert factor(model.scale) == expected
        assert calls[-1] == ("rocm", None)


def test_real_capability_lookup_without_a_gpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert layer_device.device_capability("cuda") is None
    assert layer_device.device_capability("cpu") is None


# --- Mappings and scoping ------------------------------------------------------------------------------


def test_register_inherits_by_default_and_can_replace_everything(kernel: Path) -> None:
    register_kernel_mapping(scale_mapping(local(kernel, "ModeA")))
    register_kernel_mapping({"SiluAndMul": {"cpu": LocalFuncRepository(kernel, func_name="silu_and_mul")}})
    assert set(current_mapping()) == {"Scale", "SiluAndMul"}
    register_kernel_mapping(scale_mapping(local(kernel, "ModeB"), "cuda"))
    assert set(current_mapping()["Scale"]) == {"cpu", "cuda"}
    register_kernel_mapping(scale_mapping(local(kernel, "ModeC")), inherit_mapping=False)
    assert set(current_mapping()) == {"Scale"} and set(current_mapping()["Scale"]) == {"cpu"}


def test_use_kernel_mapping_inherits_or_replaces_and_restores(kernel: Path) -> None:
    register_kernel_mapping(scale_mapping(local(kernel, "ModeA")))
    silu = {"SiluAndMul": {"cpu": LocalFuncRepository(kernel, func_name="silu_and_mul")}}
    before = current_mapping()
    with use_kernel_mapping(silu):
        assert set(current_mapping()) == {"Scale", "SiluAndMul"}
        model = Model()
        kernelize(model, mode=I)
        assert factor(model.scale) == 101
    assert current_mapping() is before
    with use_kernel_mapping(silu, inherit_mapping=False):
        assert set(current_mapping()) == {"SiluAndMul"}
        kernelize(model, mode=I)
        assert factor(model.scale) == 1
    with use_kernel_mapping(scale_mapping(local(kernel, "ModeB"))):
        kernelize(model, mode=I)
        assert factor(model.scale) == 102  # Overrides the inherited entry for the same device.
    kernelize(model, mode=I)
    assert factor(model.scale) == 101


def test_scope_is_restored_after_an_exception(kernel: Path) -> None:
    register_kernel_mapping(scale_mapping(local(kernel, "ModeA")))
    before = current_mapping()
    with pytest.raises(RuntimeError, match="boom"):
        with use_kernel_mapping(scale_mapping(local(kernel, "ModeB")), inherit_mapping=False):
            register_kernel_mapping(scale_mapping(local(kernel, "ModeC"), "cuda"))
            raise RuntimeError("boom")
    assert current_mapping() is before
    assert layer_mapping._scoped.get() is None


def test_registering_inside_a_scope_lasts_until_the_scope_ends(kernel: Path) -> None:
    with use_kernel_mapping({}):
        register_kernel_mapping(scale_mapping(local(kernel, "ModeA")))
        with use_kernel_mapping(scale_mapping(local(kernel, "ModeB"))):
            register_kernel_mapping(scale_mapping(local(kernel, "ModeC"), "cuda"), inherit_mapping=False)
            assert set(current_mapping()["Scale"]) == {"cuda"}
        assert set(current_mapping()["Scale"]) == {"cpu"}
    assert current_mapping() == {}


def test_use_kernel_mapping_object_is_reusable_and_nestable(kernel: Path) -> None:
    scope = use_kernel_mapping(scale_mapping(local(kernel, "ModeA")))
    with scope:
        with scope:
            assert "Scale" in current_mapping()
        assert "Scale" in current_mapping()
    assert current_mapping() == {}
    with scope:
        assert "Scale" in current_mapping()


def test_global_registration_is_visible_in_other_threads(kernel: Path) -> None:
    register_kernel_mapping(scale_mapping(local(kernel, "ModeA")))
    seen = []
    with use_kernel_mapping(scale_mapping(local(kernel, "ModeB"), "cuda"), inherit_mapping=False):
        thread = threading.Thread(target=lambda: seen.append(set(current_mapping())))
        thread.start()
        thread.join()
    assert seen == [{"Scale"}]


@pytest.mark.parametrize(
    ("mapping", "error", "message"),
    [
        ([], TypeError, "must be a dict of layer names"),
        ({"": {"cpu": None}}, TypeError, "layer names must be non-empty strings"),
        ({"Scale": "org/repo"}, TypeError, "must be a dict of devices to repositories"),
        ({"Scale": {"ipu": None}}, ValueError, "unsupported device type 'ipu'"),
        ({"Scale": {3: None}}, TypeError, "devices must be device-type strings or kernels.Device"),
        ({"Scale": {"cpu": "org/repo:Layer"}}, TypeError, "must be a repository or a {Mode: repository} dict"),
        ({"Scale": {"cpu": {C: LayerRepository("org/r", layer_name="L", version=1)}}}, ValueError,
         "cannot be registered for mode TORCH_COMPILE"),
        # `I | T` itself raises now (as upstream); Mode(6) is the same combination built without `|`.
        ({"Scale": {"cpu": {Mode(I.value | T.value): LayerRepository("org/r", layer_name="L", version=1)}}},
         ValueError,
         "cannot be registered for mode INFERENCE | TRAINING"),
        ({"Scale": {"cpu": {"inference": LayerRepository("org/r", layer_name="L", version=1)}}}, TypeError,
         "mode keys must be kernels.Mode"),
        ({"Scale": {"cpu": {I: None}}}, TypeError, "mode INFERENCE must be a repository"),
    ],
)
def test_invalid_mappings_are_rejected_when_registered(mapping: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=_re(message)):
        register_kernel_mapping(mapping)
    with pytest.raises(error, match=_re(message)):
        use_kernel_mapping(mapping)
    assert current_mapping() == {}


def _re(text: str) -> str:
    import re

    return re.escape(text)


def test_objects_with_a_load_method_are_repositories(kernel: Path) -> None:
    class CustomRepository:
        def load(self):
            return LocalLayerRepository(kernel, layer_name="ModeD").load()

        def __str__(self) -> str:
            return "custom repository"

    model = Model()
    with use_kernel_mapping(scale_mapping(CustomRepository())):
        kernelize(model, mode=I)
    assert factor(model.scale) == 104


# --- use_fallback and missing kernels ----------------------------------------------------------------


def test_no_mapping_keeps_the_original_forward_or_raises(kernel: Path) -> None:
    model = Model()
    kernelize(model, mode=I)
    assert factor(model.scale) == 1
    with pytest.raises(KernelizeError, match="no kernel mapping for `Scale`"):
        kernelize(model, mode=I, use_fallback=False)
    with use_kernel_mapping(scale_mapping(local(kernel, "ModeA"), "cuda")):
        with pytest.raises(KernelizeError, match=r"no kernel for device type `cpu` \(registered: cuda\)"):
            kernelize(model, mode=I, use_fallback=KernelizeFallback.NONE)


def test_load_errors_raise_unless_fallback_all(kernel: Path, tmp_path: Path, caplog) -> None:
    model = Model()
    missing = LocalLayerRepository(tmp_path / "nowhere", layer_name="Full10")
    with use_kernel_mapping(scale_mapping(missing)):
        with pytest.raises(FileNotFoundError):
            kernelize(model, mode=I)
        with caplog.at_level(logging.WARNING, logger="kernels"):
            kernelize(model, mode=I, use_fallback=KernelizeFallback.ALL)
    assert factor(model.scale) == 1
    assert "cannot be used: FileNotFoundError" in caplog.text
    with use_kernel_mapping(scale_mapping(local(kernel, "Missing"))):
        with pytest.raises(KernelLayerNotFoundError, match="`layers` module has no `Missing`"):
            kernelize(model, mode=I)
        with use_kernel_mapping(scale_mapping(local(kernel, "WithInit"))):
            kernelize(model, mode=I, use_fallback=KernelizeFallback.ALL)  # Invalid layers too.
            assert factor(model.scale) == 1
    # ALL still allows kernels that work.
    with use_kernel_mapping(scale_mapping(local(kernel, "Full10"))):
        kernelize(model, mode=I, use_fallback=KernelizeFallback.ALL)
    assert factor(model.scale) == 10


def test_kernel_without_layers_module(tmp_path: Path) -> None:
    kernel = write_kernel(tmp_path / "k", layers="", init="")
    (kernel / "build" / "torch-universal" / "__init__.py").write_text("")
    with use_kernel_mapping(scale_mapping(local(kernel, "Full10"))):
        with pytest.raises(KernelLayerNotFoundError, match="the kernel has no `layers` module"):
            kernelize(Model(), mode=I)


def test_fallback_flags_can_be_combined(kernel: Path) -> None:
    model = Model()
    only_mode = KernelizeFallback.UNSUPPORTED_MODE
    with use_kernel_mapping(scale_mapping(local(kernel, "Inference20"))):
        kernelize(model, mode=T, use_fallback=only_mode)
        assert factor(model.scale) == 1
        with pytest.raises(KernelizeError):
            kernelize(model, mode=T, use_fallback=KernelizeFallback.NO_MAPPING)
    with pytest.raises(KernelizeError):
        kernelize(model, mode=T, use_fallback=only_mode)
    assert KernelizeFallback.DEFAULT == KernelizeFallback.NO_MAPPING | KernelizeFallback.UNSUPPORTED_MODE


# --- DISABLE_KERNEL_MAPPING ----------------------------------------------------------------------------


def test_disable_kernel_mapping(kernel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = Model()
    register_kernel_mapping(scale_mapping(local(kernel, "Full10")))
    kernelize(model, mode=I)
    assert factor(model.scale) == 10
    for value in ("1", "true", "YES"):
        monkeypatch.setenv("DISABLE_KERNEL_MAPPING", value)
        kernelize(model, mode=I, use_fallback=False)  # Disabled is not an error.
        assert factor(model.scale) == 1
    monkeypatch.setenv("DISABLE_KERNEL_MAPPING", "0")
    kernelize(model, mode=I)
    assert factor(model.scale) == 10
    monkeypatch.setenv("DISABLE_KERNEL_MAPPING", "maybe")
    with pytest.raises(ValueError, match="DISABLE_KERNEL_MAPPING: expected 1 or 0"):
        kernelize(model, mode=I)


# --- Layer validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "rule"),
    [
        ("NotAModule", "a kernel layer must be a subclass of torch.nn.Module"),
        ("WithInit", "a kernel layer must not define a constructor (`__init__`)"),
        ("InheritedInit", "a kernel layer must not define a constructor (`__init__`)"),
        ("WithClassVariable", "must not define class variables other than `has_backward` and `can_torch_compile` "
                              "(found: scale)"),
        ("WithMethod", "a kernel layer must not define methods other than `forward` (found: helper)"),
        ("WithStaticMethod", "a kernel layer must not define methods other than `forward` (found: helper)"),
        ("NoForward", "a kernel layer must define `forward`"),
        ("TooManyParameters", "it has 3 parameters where 2 are expected"),
        ("WrongParameterKind", "parameter `x` is variadic positional where `x` is positional or keyword"),
    ],
)
def test_invalid_layers_are_rejected_naming_layer_and_rule(kernel: Path, layer: str, rule: str) -> None:
    model = Model()
    with use_kernel_mapping(scale_mapping(local(kernel, layer))):
        with pytest.raises(LayerValidationError) as info:
            kernelize(model, mode=I)
    message = str(info.value)
    assert rule in message
    assert f"layer `{layer}` from local path `{kernel}`" in message
    assert "cannot replace the forward of `Scale` (kernel layer name `Scale`)" in message
    assert isinstance(info.value, TypeError)
    assert factor(model.scale) == 1


def test_annotated_state_and_flags_are_allowed(kernel: Path) -> None:
    model = Model()
    with use_kernel_mapping(scale_mapping(local(kernel, "AnnotatedState"))):
        kernelize(model, mode=I | C, use_fallback=False)
    assert factor(model.scale) == 7


def test_signature_is_checked_against_each_replaced_class(kernel: Path) -> None:
    @use_kernel_forward_from_hub("Scale")
    class TwoInputScale(nn.Module):
        def forward(self, x, y):
            return x + y

    class Both(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = Scale()
            self.b = TwoInputScale()

    with use_kernel_mapping(scale_mapping(local(kernel, "TooManyParameters"))):
        with pytest.raises(LayerValidationError, match="cannot replace the forward of `Scale`"):
            kernelize(Both(), mode=I)
        only_b = nn.Sequential(TwoInputScale(), nn.Linear(1, 1))
        kernelize(only_b, mode=I)
        assert only_b[0](torch.ones(2), torch.ones(2)).tolist() == [1.0, 1.0]  # TooManyParameters returns x


# --- Functions ---------------------------------------------------------------------------------------


@use_kernel_func_from_hub("silu_and_mul")
def silu_and_mul(x: torch.Tensor) -> torch.Tensor:
    """Gated SiLU."""
    d = x.shape[-1] // 2
    return F.silu(x[..., :d]) * x[..., d:]


@use_kernel_forward_from_hub("times")
def times(x: torch.Tensor) -> torch.Tensor:
    return x * 1


@use_kernelized_func(silu_and_mul, [times])
class FeedForward(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return times(silu_and_mul(self.linear(x)))


def reference_silu_and_mul(x: torch.Tensor) -> torch.Tensor:
    d = x.shape[-1] // 2
    return F.silu(x[..., :d]) * x[..., d:]


@pytest.fixture
def reset_function_modules():
    yield
    for module in (silu_and_mul, times):
        module.__dict__.pop("forward", None)
        module.__dict__.pop("_kernelize_forward_func", None)


def test_function_becomes_a_singleton_module_with_the_same_behaviour() -> None:
    assert isinstance(silu_and_mul, nn.Module)
    assert type(silu_and_mul).kernel_layer_name == "silu_and_mul"
    x = torch.randn(3, 8)
    assert torch.equal(silu_and_mul(x), reference_silu_and_mul(x))
    assert silu_and_mul.__name__ == "silu_and_mul" and silu_and_mul.__doc__ == "Gated SiLU."
    assert inspect.signature(silu_and_mul) == inspect.signature(reference_silu_and_mul)
    assert list(inspect.signature(type(silu_and_mul).forward).parameters) == ["self", "x"]
    assert isinstance(times, nn.Module) and type(times).kernel_layer_name == "times"
    with pytest.raises(TypeError, match="use use_kernel_forward_from_hub for layer classes"):
        use_kernel_func_from_hub("x")(Scale)
    with pytest.raises(TypeError, match="expected a function"):
        use_kernel_forward_from_hub("x")(3)  # type: ignore[arg-type]


def test_use_kernelized_func_records_functions_without_changing_the_module(kernel: Path) -> None:
    assert FeedForward._kernel_funcs == {"silu_and_mul": silu_and_mul, "times": times}
    model = FeedForward()
    assert [name for name, _ in model.named_modules()] == ["", "linear"]
    assert set(model.state_dict()) == {"linear.weight", "linear.bias"}

    @use_kernelized_func(times)
    class Child(FeedForward):
        pass

    assert Child._kernel_funcs == FeedForward._kernel_funcs
    with pytest.raises(TypeError, match="is not an extensible function"):
        use_kernelized_func(reference_silu_and_mul)
    with pytest.raises(TypeError, match="expected a layer class"):
        use_kernelized_func(times)(reference_silu_and_mul)  # type: ignore[arg-type]


def test_kernelize_reaches_functions_through_use_kernelized_func(kernel: Path, reset_function_modules) -> None:
    model = FeedForward()
    x = torch.randn(2, 4)
    before = model(x)
    mapping = {
        "silu_and_mul": {"cpu": LocalFuncRepository(kernel, func_name="silu_and_mul")},
        "times": {"cpu": LocalFuncRepository(kernel, func_name="times3")},
    }
    with use_kernel_mapping(mapping):
        kernelize(model, mode=I, use_fallback=False)
    assert torch.allclose(model(x), before * 300)
    kernelize(model, mode=I)
    assert torch.allclose(model(x), before)


def test_function_as_submodule_is_kernelized(kernel: Path, reset_function_modules) -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 8)
            self.act = silu_and_mul

        def forward(self, x):
            return self.act(self.linear(x))

    model = Block()
    x = torch.randn(2, 4)
    before = model(x)
    with use_kernel_mapping({"silu_and_mul": {"cpu": LocalFuncRepository(kernel, None, "silu_and_mul")}}):
        kernelize(model, mode=T)
    assert torch.allclose(model(x), before * 100)
    assert torch.allclose(silu_and_mul(x.repeat(1, 2)), reference_silu_and_mul(x.repeat(1, 2)) * 100)


def test_stateless_layer_mapped_to_a_function(kernel: Path) -> None:
    model = nn.Sequential(nn.Linear(4, 8), SiluAndMul())
    x = torch.randn(2, 4)
    before = model(x)
    with use_kernel_mapping({"SiluAndMul": {"cpu": LocalFuncRepository(kernel, func_name="silu_and_mul")}}):
        kernelize(model, mode=I)
    assert torch.allclose(model(x), before * 100)


def test_function_kernels_are_validated_and_gated(kernel: Path) -> None:
    model = nn.Sequential(nn.Linear(4, 8), SiluAndMul())
    with use_kernel_mapping({"SiluAndMul": {"cpu": LocalFuncRepository(kernel, func_name="two_args")}}):
        with pytest.raises(LayerValidationError, match="function `two_args` .* it has 3 parameters where 2"):
            kernelize(model, mode=I)
    with use_kernel_mapping({"SiluAndMul": {"cpu": LocalFuncRepository(kernel, func_name="silu_and_mul")}}):
        with pytest.raises(KernelizeError, match="can_torch_compile is not set"):
            kernelize(model, mode=I | C, use_fallback=False)
    with use_kernel_mapping({"SiluAndMul": {"cpu": LocalFuncRepository(kernel, func_name="nope")}}):
        with pytest.raises(KernelLayerNotFoundError, match="the kernel has no function `nope`"):
            kernelize(model, mode=I)
    layer = LocalFuncRepository(kernel, func_name="times3").load()
    assert issubclass(layer, nn.Module) and layer.can_torch_compile is True


# --- Logging ---------------------------------------------------------------------------------------


def test_kernelize_logs_the_kernel_of_each_layer_at_info(kernel: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.ModuleList(Model() for _ in range(5))
            self.act = SiluAndMul()

    with use_kernel_mapping(scale_mapping(local(kernel, "Full10"))):
        with caplog.at_level(logging.INFO, logger="kernels"):
            kernelize(Net(), mode=I)
    records = [r for r in caplog.records if r.name == "kernels.layer.kernelize" and r.levelno == logging.INFO]
    text = "\n".join(r.getMessage() for r in records)
    assert len(records) == 2
    assert ("kernelize(mode=INFERENCE, device=cpu): `Scale` (Scale at blocks.0.scale, blocks.1.scale, "
            "blocks.2.scale, ... (5 modules)) -> layer `Full10` from local path") in text
    assert "(registered for FALLBACK)" in text
    assert "`SiluAndMul` (SiluAndMul at act) -> original forward (no kernel mapping for `SiluAndMul`)" in text


# --- Hub repositories (resolved through get_kernel) ---------------------------------------------------


def test_layer_and_func_repository_resolve_through_get_kernel(kernel: Path, monkeypatch) -> None:
    monkeypatch.setenv("LOCAL_KERNELS", f"kernels-test/layers={kernel}")
    layer_model = Model()
    mapping = {
        "Scale": {"cpu": LayerRepository("kernels-test/layers", layer_name="Full10", version=1)},
        "SiluAndMul": {"cpu": FuncRepository("kernels-test/layers", func_name="silu_and_mul", revision="main")},
    }
    with use_kernel_mapping(mapping):
        kernelize(layer_model, mode=I)
        seq = nn.Sequential(nn.Linear(4, 8), SiluAndMul())
        x = torch.randn(2, 4)
        before = seq(x)
        kernelize(seq, mode=I)
    assert factor(layer_model.scale) == 10
    assert torch.allclose(seq(x), before * 100)


def test_hub_repositories_pass_their_pin_and_trust_to_get_kernel(kernel: Path, monkeypatch) -> None:
    calls = []
    real = kernels.get_local_kernel(kernel)

    def fake_get_kernel(repo_id, revision=None, version=None, backend=None, user_agent=None,
                        trust_remote_code=False):
        calls.append((repo_id, revision, version, trust_remote_code))
        return real

    monkeypatch.setattr("kernels.hub.get_kernel", fake_get_kernel)
    LayerRepository("org/a", layer_name="Full10", version=2, trust_remote_code=True).load()
    FuncRepository("org/b", func_name="times3", revision="abc123", trust_remote_code=["sigstore:org"]).load()
    assert calls == [("org/a", None, 2, True), ("org/b", "abc123", None, ["sigstore:org"])]


@pytest.mark.parametrize("cls,name", [(LayerRepository, "layer_name"), (FuncRepository, "func_name")])
def test_hub_repositories_need_exactly_one_of_version_and_revision(cls: type, name: str) -> None:
    with pytest.raises(ValueError, match=r"needs a 'version' or a 'revision'"):
        cls("org/a", **{name: "X"})
    with pytest.raises(ValueError, match="either 'revision' or 'version', not both"):
        cls("org/a", **{name: "X"}, version=1, revision="main")
    with pytest.raises(ValueError, match="'version' must be a non-negative integer"):
        cls("org/a", **{name: "X"}, version=-1)
    with pytest.raises(TypeError, match=f"'{name}' must be a non-empty string"):
        cls("org/a", version=1)
    with pytest.raises(TypeError, match="'trust_remote_code' must be a bool or a list of strings"):
        cls("org/a", **{name: "X"}, version=1, trust_remote_code="yes")
    repo = cls("org/a", **{name: "X"}, version=1, revision=None)  # transformers passes both, one being None.
    assert repo.version == 1 and repo.revision is None


def test_repository_equality_hash_and_text(kernel: Path) -> None:
    a = LayerRepository("org/a", layer_name="L", version=1)
    assert a == LayerRepository(repo_id="org/a", layer_name="L", version=1)
    assert hash(a) == hash(LayerRepository("org/a", "L", version=1))
    assert a != LayerRepository("org/a", layer_name="L", version=2)
    assert a != FuncRepository("org/a", func_name="L", version=1)
    assert str(a) == "layer `L` from `org/a` (version 1)"
    assert repr(a) == "LayerRepository(repo_id='org/a', layer_name='L', version=1)"
    f = FuncRepository("org/a", func_name="f", revision="v2", trust_remote_code=["x"])
    assert str(f) == "function `f` from `org/a` (revision v2)"
    assert hash(f) == hash(FuncRepository("org/a", func_name="f", revision="v2", trust_remote_code=["x"]))
    l1 = LocalLayerRepository(repo_path=kernel, package_name="activation", layer_name="L")
    assert l1 == LocalLayerRepository(str(kernel), "activation", "L")
    assert l1 != LocalLayerRepository(kernel, layer_name="L")
    assert str(l1) == f"layer `L` from local path `{kernel}`"
    assert "package_name='activation'" in repr(l1)
    with pytest.raises(TypeError, match="'layer_name' must be a non-empty string"):
        LocalLayerRepository(kernel, "activation")
    with pytest.raises(TypeError, match="'repo_path' must be a path"):
        LocalFuncRepository(3, func_name="f")  # type: ignore[arg-type]


# --- Locked repositories -------------------------------------------------------------------------------


def lock_json(*entries: tuple[str, str]) -> str:
    return json.dumps([{"repo_id": r, "sha": s, "variants": {}} for r, s in entries])


def test_locked_repositories_load_the_locked_revision(kernel: Path, tmp_path: Path, monkeypatch) -> None:
    lockfile = tmp_path / "kernels.lock"
    lockfile.write_text(lock_json(("org/other", "1" * 40), ("org/layers", "a" * 40)))
    calls = []
    real = kernels.get_local_kernel(kernel)

    def fake_load_locked(lock, backend, offline, pre_downloaded):
        # The Hub side (download, hash check) is tested in tests/test_locking_e2e.py.
        calls.append((lock.repo_id, lock.sha, pre_downloaded))
        return real

    monkeypatch.setattr("kernels.locking.load_locked", fake_load_locked)
    model = nn.Sequential(nn.Linear(4, 8), SiluAndMul())
    with use_kernel_mapping({
        "Scale": {"cpu": LockedLayerRepository("org/layers", layer_name="Full10", lockfile=lockfile)},
        "SiluAndMul": {"cpu": LockedFuncRepository("org/layers", func_name="silu_and_mul", lockfile=str(lockfile))},
    }):
        layer_model = Model()
        kernelize(layer_model, mode=I)
        kernelize(model, mode=I)
    assert factor(layer_model.scale) == 10
    assert calls == [("org/layers", "a" * 40, False)] * 2
    assert str(LockedLayerRepository("org/layers", layer_name="L", lockfile=lockfile)) == (
        f"layer `L` from `org/layers` (locked in lock file `{lockfile}`)"
    )


def test_locked_repository_errors_are_clear(tmp_path: Path) -> None:
    lockfile = tmp_path / "kernels.lock"
    lockfile.write_text(lock_json(("org/other", "1" * 40)))
    with pytest.raises(ValueError, match=r"`org/layers` is not locked in .*kernels.lock"):
        LockedLayerRepository("org/layers", layer_name="L", lockfile=lockfile).load()
    with pytest.raises(FileNotFoundError, match="cannot read lock file"):
        LockedLayerRepository("org/layers", layer_name="L", lockfile=tmp_path / "missing.lock").load()
    with pytest.raises(ValueError, match=r"`org/layers` is not locked: no entry in .* pass lockfile="):
        LockedFuncRepository("org/layers", func_name="f").load()  # This test module ships no kernels.lock.


def test_locked_repository_reads_the_callers_distribution(tmp_path: Path, monkeypatch) -> None:
    dist_info = tmp_path / "site" / "myproject-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: myproject\nVersion: 1.0\n")
    (dist_info / "top_level.txt").write_text("myproject\n")
    (dist_info / "kernels.lock").write_text(lock_json(("org/layers", "b" * 40)))
    package = tmp_path / "site" / "myproject"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from kernels import LockedLayerRepository\n"
        "REPO = LockedLayerRepository('org/layers', layer_name='L')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    import importlib

    importlib.invalidate_caches()
    module = importlib.import_module("myproject")
    try:
        assert module.REPO.locked_revision() == "b" * 40
    finally:
        sys.modules.pop("myproject", None)


def test_lockfile_parsing() -> None:
    text = lock_json(("org/a", "1" * 40))
    assert find_lock(parse_lockfile(text), "org/a").sha == "1" * 40
    assert find_lock(parse_lockfile(text), "org/b") is None
    [lock] = parse_lockfile(text)
    assert lock.repo_id == "org/a" and lock.variants == {}
    for bad, message in (("{", "invalid JSON"), ("{}", "expected a JSON list"), ("[1]", "entry 0 is not"),
                         ('[{"repo_id": "a"}]', "needs a non-empty string 'sha'"),
                         ('[{"repo_id": "a", "sha": "b", "variants": []}]', "'variants' of entry 0")):
        with pytest.raises(LockfileError, match=_re(message)):
            parse_lockfile(bad, "x.lock")


# --- torch.compile -------------------------------------------------------------------------------------


def test_compiled_model_has_one_graph_and_no_recompilation(kernel: Path, reset_function_modules) -> None:
    import torch._dynamo
    from torch._dynamo.utils import counters

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ff = FeedForward()
            self.scale = Scale()

        def forward(self, x):
            return self.scale(self.ff(x))

    torch.manual_seed(0)
    model = Net()
    mapping = {
        "Scale": {"cpu": {I | C: local(kernel, "Full10"), I: local(kernel, "Inference20")}},
        "times": {"cpu": LocalFuncRepository(kernel, func_name="times3")},
    }
    with use_kernel_mapping(mapping):
        kernelize(model, mode=I | C)
    x = torch.randn(3, 4)
    expected = model(x)
    assert torch.allclose(expected, Net.forward(model, x))
    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    with torch._dynamo.config.patch(error_on_recompile=True), torch.no_grad():
        first = compiled(x)
        second = compiled(x + 1)
    assert torch.allclose(first, expected)
    assert torch.allclose(second, model(x + 1))
    assert counters["stats"]["unique_graphs"] == 1
    torch._dynamo.reset()


# --- Import cost ----------------------------------------------------------------------------------------


def test_layer_api_does_not_import_torch() -> None:
    import subprocess

    code = (
        "import sys, kernels\n"
        "from kernels import LayerRepository, Mode, Device, CUDAProperties, register_kernel_mapping, "
        "use_kernel_mapping, use_kernel_forward_from_hub\n"
        "@use_kernel_forward_from_hub('X')\n"
        "class X: pass\n"
        "register_kernel_mapping({'X': {Device('cuda', CUDAProperties(80, 90)): "
        "{Mode.INFERENCE: LayerRepository('org/x', layer_name='X', version=1)}}})\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False"]


def test_public_names() -> None:
    for name in ("kernelize", "Mode", "KernelizeFallback", "use_kernelized_func", "ROCMProperties",
                 "LockedFuncRepository"):
        assert name in kernels.__all__ and hasattr(kernels, name)
