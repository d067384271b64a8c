"""Layer API parity with upstream ``kernels`` (0.17-0.19): names, values, messages, import paths, behaviour.

Kernels here come from in-memory repositories (any object with ``load()``),
so nothing is built, downloaded or run on a GPU.
"""

from __future__ import annotations

import copy
import importlib
import types
from typing import Any

import pytest
import torch
from torch import nn

import kernels
from kernels import (
    CUDAProperties,
    Device,
    FuncRepository,
    KernelizedLayers,
    KernelizeFallback,
    LayerRepository,
    LocalFuncRepository,
    LocalLayerRepository,
    LockedLayerRepository,
    Mode,
    get_kernelized_layers,
    kernelize,
    use_kernel_forward_from_hub,
    use_kernel_mapping,
    use_kernelized_func,
)
from kernels.layer import KernelFunctionError, LayerValidationError
from kernels.layer import device as layer_device


class InMemoryRepository:
    """A repository whose ``load()`` returns a layer class defined in the test."""

    def __init__(self, layer: type) -> None:
        self.layer = layer

    def load(self) -> type:
        return self.layer

    def __str__(self) -> str:
        return f"in-memory layer `{self.layer.__name__}`"


class TimesTen(nn.Module):
    can_torch_compile = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 10


@use_kernel_forward_from_hub("double")
def double(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@use_kernelized_func(double)
class Doubler(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return double(x) + self.bias


@use_kernel_forward_from_hub("Halve")
class Halve(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / 2


ONE = torch.ones(3)


# --- Item 7: errors and messages as upstream words them ---------------------------------------------


def test_mode_or_rejects_what_upstream_rejects() -> None:
    with pytest.raises(ValueError, match="Mode.INFERENCE and Mode.TRAINING are mutually exclusive"):
        _ = Mode.INFERENCE | Mode.TRAINING
    with pytest.raises(ValueError, match="mutually exclusive"):
        _ = Mode.TRAINING | Mode.TORCH_COMPILE | Mode.INFERENCE
    for other in (Mode.TORCH_COMPILE, Mode.INFERENCE, Mode.TRAINING):
        with pytest.raises(ValueError, match="Mode.FALLBACK cannot be combined with other modes"):
            _ = Mode.FALLBACK | other
        with pytest.raises(ValueError, match="cannot be combined"):
            _ = other | Mode.FALLBACK
    assert Mode.FALLBACK | Mode.FALLBACK is Mode.FALLBACK
    assert Mode.INFERENCE | Mode.TORCH_COMPILE == Mode(Mode.INFERENCE.value + Mode.TORCH_COMPILE.value)


def test_kernelize_mode_messages() -> None:
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="Mode.FALLBACK can only be used to register kernel mappings"):
        kernelize(model, mode=Mode.FALLBACK)
    with pytest.raises(ValueError, match="kernelize mode must contain Mode.INFERENCE or Mode.TRAINING"):
        kernelize(model, mode=Mode.TORCH_COMPILE)
    with pytest.raises(ValueError, match="mode must contain"):
        kernelize(model, mode=Mode(0))


def test_use_kernelized_func_rejects_undecorated_functions_as_value_and_type_error() -> None:
    def plain(x):
        return x

    for expected in (ValueError, TypeError):
        with pytest.raises(expected, match="Function `plain` is not decorated with @use_kernel_forward_from_hub"):

            @use_kernelized_func(plain)
            class Uses(nn.Module):
                def forward(self, x):
                    return plain(x)

    assert issubclass(KernelFunctionError, ValueError) and issubclass(KernelFunctionError, TypeError)
    with pytest.raises(TypeError, match="@use_kernel_forward_from_hub can only be applied to classes or functions"):
        use_kernel_forward_from_hub("x")(42)  # type: ignore[arg-type]


def _stub(name: str) -> LayerRepository:
    return LayerRepository("org/nonexisting", layer_name=name, revision="main")


class Reference(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_validation_messages_lead_with_upstreams_wording() -> None:
    from kernels.layer.layer import _validate_layer

    class WithInit(nn.Module):
        def __init__(self) -> None:
            super().__init__()

    class WithMember(nn.Module):
        limit: int = 3

    class ExtraArgument(nn.Module):
        def forward(self, x, y): ...

    class KeywordOnly(nn.Module):
        def forward(self, *, x): ...

    cases = [
        (WithInit, r"`org/nonexisting`.*layer `WithInit` must not override nn.Module constructor"),
        (WithMember, r"`org/nonexisting`.*layer `WithMember` must not contain additional members compared to "
                     r"`Reference`"),
        (ExtraArgument, r"^Forward signature of `org/nonexisting` \(revision main\), layer `ExtraArgument` does not "
                        r"match `Reference`: different number of arguments"),
        (KeywordOnly, r"^Forward signature of .*`org/nonexisting`.*layer `KeywordOnly` does not match `Reference`: "
                      r"different kind of arguments"),
    ]
    for layer, pattern in cases:
        with pytest.raises(TypeError, match=pattern) as info:
            _validate_layer(cls=layer, check_cls=Reference, repo=_stub(layer.__name__))
        assert isinstance(info.value, LayerValidationError)
        assert "cannot replace the forward of `Reference`" in str(info.value)  # Ours: which rule, and why.


@pytest.mark.parametrize("cls", [LayerRepository, FuncRepository])
def test_hub_repositories_need_one_pin_in_upstreams_words(cls: type) -> None:
    name = {"layer_name" if cls is LayerRepository else "func_name": "x"}
    with pytest.raises(ValueError, match=r"Either a revision or a version must be specified \("):
        cls("org/r", **name)
    with pytest.raises(ValueError, match=r"Either a revision or a version must be specified, not both"):
        cls("org/r", revision="main", version=1, **name)


# --- Item 8: capability ranges, smallest containing range, latest registration on ties ----------------


def test_kernelize_picks_the_narrowest_capability_range(monkeypatch: pytest.MonkeyPatch) -> None:
    class Wide(TimesTen):
        pass

    class Narrow(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 100

    monkeypatch.setattr(layer_device, "device_capability", lambda device_type, index=None: 86)
    wide = Device("cuda", CUDAProperties(min_capability=80, max_capability=89))
    narrow = Device("cuda", CUDAProperties(min_capability=86, max_capability=86))
    model = Halve()
    with use_kernel_mapping({"Halve": {narrow: InMemoryRepository(Narrow), wide: InMemoryRepository(Wide)}}):
        kernelize(model, mode=Mode.INFERENCE, device="cuda")
    assert model(ONE).tolist() == [100.0] * 3


# --- Item 9: upstream's module paths ------------------------------------------------------------------


def test_upstream_module_paths_import() -> None:
    layer_module = importlib.import_module("kernels.layer.layer")
    func_module = importlib.import_module("kernels.layer.func")
    tree_module = importlib.import_module("kernels.layer._interval_tree")
    for name in ("LayerRepository", "LocalLayerRepository", "LockedLayerRepository", "KernelizeFallback",
                 "replace_kernel_forward_from_hub", "use_kernel_forward_from_hub", "use_kernelized_func"):
        assert getattr(layer_module, name) is getattr(kernels, name)
    for name in ("FuncRepository", "LocalFuncRepository", "LockedFuncRepository", "use_kernel_func_from_hub"):
        assert getattr(func_module, name) is getattr(kernels, name)
    assert callable(tree_module.IntervalTree().find_smallest_interval)


def test_kernel_mapping_view_has_upstreams_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    from kernels.layer.layer import _KERNEL_MAPPING

    repo = LayerRepository("org/silu", layer_name="SiluAndMul", version=1)
    restricted = LayerRepository("org/silu-sm90", layer_name="SiluAndMul", version=1)
    mapping = {"SiluAndMul": {"rocm": repo, "cuda": {Mode.INFERENCE: repo},
                              Device("cuda", CUDAProperties(90, 90)): restricted}}
    with use_kernel_mapping(mapping, inherit_mapping=False):
        view = _KERNEL_MAPPING.get()
        assert set(view) == {"SiluAndMul"} and set(view["SiluAndMul"]) == {"rocm", "cuda"}
        assert view["SiluAndMul"]["rocm"].repos[Mode.FALLBACK]._repo_id == "org/silu"
        assert view["SiluAndMul"]["rocm"].repos[Mode.FALLBACK].layer_name == "SiluAndMul"
        assert view["SiluAndMul"]["cuda"].repos == {Mode.INFERENCE: repo}  # The unrestricted entry.
        monkeypatch.setattr(layer_device, "device_capability", lambda device_type, index=None: 90)
        assert view["SiluAndMul"]["cuda"].repos_for_device() == {Mode.FALLBACK: restricted}
        monkeypatch.setattr(layer_device, "device_capability", lambda device_type, index=None: 80)
        assert view["SiluAndMul"]["cuda"].repos_for_device() == {Mode.INFERENCE: repo}
    assert "SiluAndMul" not in _KERNEL_MAPPING.get()


# --- Item 10: client surface ----------------------------------------------------------------------------


def test_mode_and_fallback_values_and_names_match_upstream() -> None:
    assert [(m.name, m.value) for m in Mode] == [
        ("FALLBACK", 1), ("TRAINING", 2), ("INFERENCE", 4), ("TORCH_COMPILE", 8)
    ]
    assert str(Mode.INFERENCE) == "Mode.INFERENCE"
    assert str(Mode.TRAINING | Mode.TORCH_COMPILE) == "Mode.TRAINING|TORCH_COMPILE"
    assert [(f.name, f.value) for f in KernelizeFallback] == [
        ("NO_LAYER", 1), ("NO_DEVICE", 2), ("NO_COMPATIBLE_PROPERTIES", 4), ("NO_COMPATIBLE_MODE", 8),
        ("CANNOT_LOAD", 16),
    ]
    f = KernelizeFallback
    assert f.DEFAULT == f.NO_LAYER | f.NO_DEVICE | f.NO_COMPATIBLE_PROPERTIES | f.NO_COMPATIBLE_MODE
    assert f.ALL == f.DEFAULT | f.CANNOT_LOAD and f.NONE.value == 0
    assert f.NO_MAPPING == f.NO_LAYER | f.NO_DEVICE | f.NO_COMPATIBLE_PROPERTIES  # Our earlier names.
    assert f.UNSUPPORTED_MODE is f.NO_COMPATIBLE_MODE and f.LOAD_ERROR is f.CANNOT_LOAD


def test_each_fallback_flag_covers_its_own_case(monkeypatch: pytest.MonkeyPatch) -> None:
    f = KernelizeFallback
    no_compile = InMemoryRepository(type("NoCompile", (nn.Module,), {"forward": TimesTen.forward}))
    monkeypatch.setattr(layer_device, "device_capability", lambda device_type, index=None: 75)
    cases = [
        ({}, f.NO_LAYER),
        ({"Halve": {"cuda": InMemoryRepository(TimesTen)}}, f.NO_DEVICE),
        ({"Halve": {Device("cpu"): {Mode.TRAINING: InMemoryRepository(TimesTen)}}}, f.NO_COMPATIBLE_MODE),
        ({"Halve": {"cpu": no_compile}}, f.NO_COMPATIBLE_MODE),  # The kernel cannot be compiled.
    ]
    for mapping, flag in cases:
        model = Halve()
        with use_kernel_mapping(mapping, inherit_mapping=False):
            kernelize(model, mode=Mode.INFERENCE | Mode.TORCH_COMPILE, device="cpu", use_fallback=flag)
            assert model(ONE).tolist() == [0.5] * 3
            with pytest.raises(ValueError):
                kernelize(model, mode=Mode.INFERENCE | Mode.TORCH_COMPILE, device="cpu",
                          use_fallback=f.ALL & ~flag)
    restricted = {"Halve": {Device("cuda", CUDAProperties(80, 90)): InMemoryRepository(TimesTen)}}
    with use_kernel_mapping(restricted, inherit_mapping=False):
        kernelize(Halve(), mode=Mode.INFERENCE, device="cuda", use_fallback=f.NO_COMPATIBLE_PROPERTIES)
        with pytest.raises(ValueError, match="no cuda kernel for capability 75"):
            kernelize(Halve(), mode=Mode.INFERENCE, device="cuda", use_fallback=f.NO_LAYER | f.NO_DEVICE)


def test_kernelize_errors_lead_with_upstreams_wording(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layer_device, "device_capability", lambda device_type, index=None: 75)
    no_backward = InMemoryRepository(type("NoBackward", (nn.Module,), {"forward": TimesTen.forward,
                                                                       "has_backward": False}))
    cases = [
        ({}, Mode.INFERENCE, "cpu", r"^No layer mapping for `Halve` \("),
        ({"Halve": {"cuda": no_backward}}, Mode.INFERENCE, "cpu",
         r"^No layer mapping for `Halve` with device type `cpu`"),
        ({"Halve": {Device("cuda", CUDAProperties(80, 90)): no_backward}}, Mode.INFERENCE, "cuda",
         r"^No layer mapping for `Halve` device `cuda` with the right properties"),
        ({"Halve": {"cpu": {Mode.INFERENCE: no_backward}}}, Mode.TRAINING, "cpu",
         r"^No repository for `Halve` for configuration mode=Mode.TRAINING"),
        ({"Halve": {"cpu": no_backward}}, Mode.TRAINING, "cpu",
         r"^Function/layer from repo in-memory layer `NoBackward` does not support backward, needed for mode "
         r"`Mode.TRAINING`"),
    ]
    for mapping, mode, device, pattern in cases:
        with use_kernel_mapping(mapping, inherit_mapping=False):
            with pytest.raises(ValueError, match=pattern) as info:
                kernelize(Halve(), mode=mode, device=device, use_fallback=False)
        assert "kernelize: no usable kernel for layer `Halve`" in str(info.value)


def test_layer_repository_passes_user_agent_and_check_arch(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    kernel = types.ModuleType("fake_kernel")
    kernel.layers = types.SimpleNamespace(TimesTen=TimesTen)  # type: ignore[attr-defined]

    def fake_get_kernel(repo_id, revision=None, version=None, trust_remote_code=False, user_agent=None,
                        check_arch=True):
        calls.append(dict(repo_id=repo_id, revision=revision, user_agent=user_agent, check_arch=check_arch))
        return kernel

    monkeypatch.setattr("kernels.hub.get_kernel", fake_get_kernel)
    repo = LayerRepository("org/k", layer_name="TimesTen", revision="main", user_agent={"app": "demo"},
                           check_arch=False)
    assert repo.load() is TimesTen
    assert calls == [dict(repo_id="org/k", revision="main", user_agent={"app": "demo"}, check_arch=False)]
    assert repo == LayerRepository("org/k", layer_name="TimesTen", revision="main", check_arch=False)
    assert repo != LayerRepository("org/k", layer_name="TimesTen", revision="main")

    def older_get_kernel(repo_id, revision=None, version=None, trust_remote_code=False):
        calls.append(dict(repo_id=repo_id))
        return kernel

    monkeypatch.setattr("kernels.hub.get_kernel", older_get_kernel)  # A loader without those options.
    assert repo.load() is TimesTen and calls[-1] == dict(repo_id="org/k")

    def keyword_get_kernel(repo_id, **kwargs):
        calls.append(dict(repo_id=repo_id, **kwargs))
        return kernel

    monkeypatch.setattr("kernels.hub.get_kernel", keyword_get_kernel)
    assert repo.load() is TimesTen and calls[-1]["check_arch"] is False and calls[-1]["user_agent"] == {"app": "demo"}
    with pytest.raises(TypeError, match="'user_agent' must be a string or a dict"):
        LayerRepository("org/k", layer_name="X", version=1, user_agent=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'check_arch' must be a bool"):
        LocalLayerRepository("/tmp", layer_name="X", check_arch="no")  # type: ignore[arg-type]


def test_locked_and_local_repositories_take_upstreams_options(tmp_path) -> None:
    locked = LockedLayerRepository("org/k", layer_name="L", lockfile=tmp_path / "kernels.lock",
                                   trust_remote_code=["org/k"], check_arch=False)
    assert locked.trust_remote_code == ["org/k"] and locked.check_arch is False
    assert locked._repo_id == "org/k" and locked._lockfile == tmp_path / "kernels.lock"
    assert locked != LockedLayerRepository("org/k", layer_name="L", lockfile=tmp_path / "kernels.lock")
    with pytest.raises(TypeError, match="'trust_remote_code' must be a bool or a list of strings"):
        LockedLayerRepository("org/k", layer_name="L", trust_remote_code="org/k")  # type: ignore[arg-type]
    local = LocalFuncRepository(tmp_path, func_name="f", check_arch=False)
    assert local._repo_path == tmp_path and local.check_arch is False
    hub = LayerRepository("org/k", layer_name="L", version=2)
    assert (hub._repo_id, hub._revision, hub._version) == ("org/k", None, 2)


def test_condition_decides_per_instance() -> None:
    @use_kernel_forward_from_hub("Scaled", condition=lambda module: module.enabled)
    class Scaled(nn.Module):
        def __init__(self, enabled: bool) -> None:
            super().__init__()
            self.enabled = enabled

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    on, off = Scaled(True), Scaled(False)
    model = nn.Sequential(on, off)
    with use_kernel_mapping({"Scaled": {"cpu": InMemoryRepository(TimesTen)}}):
        kernelize(model, mode=Mode.INFERENCE, device="cpu")
    assert on(ONE).tolist() == [10.0] * 3 and off(ONE).tolist() == [1.0] * 3
    assert Scaled.kernel_condition(on) is True  # Read through the class, not bound to an instance.
    with pytest.raises(TypeError, match="'condition' must be a callable"):
        use_kernel_forward_from_hub("Scaled", condition=True)  # type: ignore[arg-type]


def test_device_property_errors_use_upstreams_sentence() -> None:
    from kernels import ROCMProperties

    with pytest.raises(ValueError, match="CUDAProperties is only supported for 'cuda' devices"):
        Device(type="rocm", properties=CUDAProperties(min_capability=80, max_capability=90))
    with pytest.raises(ValueError, match="ROCMProperties is only supported for 'rocm' devices"):
        Device(type="mps", properties=ROCMProperties(min_capability=80, max_capability=90))


def test_tpu_is_a_device_type() -> None:
    # transformers lists tpu among its device types; upstream accepts it.
    assert Device(type="tpu") == Device("tpu")
    kernelize(torch.nn.Sequential(), mode=Mode.INFERENCE, device="tpu")


# --- Item 11: per-instance kernelized functions, get_kernelized_layers ------------------------------------


def test_kernelized_functions_are_per_instance() -> None:
    kernelized, plain = Doubler(), Doubler()
    assert kernelized._kernel_funcs["double"] is not plain._kernel_funcs["double"]
    assert Doubler._kernel_funcs == {"double": double}  # The class keeps listing the shared function.
    with use_kernel_mapping({"double": {"cpu": InMemoryRepository(TimesTen)}}):
        kernelize(kernelized, mode=Mode.INFERENCE, device="cpu")
    assert kernelized(ONE).tolist() == [10.0] * 3
    assert plain(ONE).tolist() == [2.0] * 3
    assert double(ONE).tolist() == [2.0] * 3  # Outside any forward, the shared function is unchanged.
    assert copy.deepcopy(kernelized)(ONE).tolist() == [10.0] * 3
    assert [n for n, _ in kernelized.named_modules()] == [""] and set(kernelized.state_dict()) == {"bias"}


def test_get_kernelized_layers_reports_layers_and_functions() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.doubler = Doubler()
            self.halve = Halve()
            self.other = Halve()

    net = Net()
    to_ten = InMemoryRepository(TimesTen)
    assert get_kernelized_layers(net) == KernelizedLayers()
    with use_kernel_mapping({"double": {"cpu": to_ten}, "Halve": {"cpu": to_ten}}):
        kernelize(net, mode=Mode.INFERENCE, device="cpu")
    found = get_kernelized_layers(net)
    assert set(found.layers) == {"halve", "other"}
    assert found.layers["halve"].module is net.halve and found.layers["halve"].repo is to_ten
    assert set(found.funcs) == {("doubler", "double")}
    assert found.funcs[("doubler", "double")].module is net.doubler._kernel_funcs["double"]
    with use_kernel_mapping({"double": {}, "Halve": {}}, inherit_mapping=False):
        kernelize(net, mode=Mode.INFERENCE, device="cpu")
    assert get_kernelized_layers(net) == KernelizedLayers()


def test_new_layer_names_are_exported() -> None:
    for name in ("KernelizedLayer", "KernelizedLayers", "KernelizedFunc", "get_kernelized_layers"):
        assert name in kernels.__all__ and getattr(kernels, name) is getattr(kernels.layer, name)


def test_models_with_function_copies_copy_and_pickle() -> None:
    import pickle

    model = Doubler()
    with use_kernel_mapping({"double": {"cpu": InMemoryRepository(TimesTen)}}):
        kernelize(model, mode=Mode.INFERENCE, device="cpu")
    assert copy.copy(model)(ONE).tolist() == [10.0] * 3
    assert copy.deepcopy(model)._kernel_funcs["double"] is not model._kernel_funcs["double"]
    assert pickle.loads(pickle.dumps(double)) is double  # The module-level function, by reference.
    restored = pickle.loads(pickle.dumps(model))
    # Kernels are not pickled (they are imported under names another process cannot import): kernelize again.
    assert restored(ONE).tolist() == [2.0] * 3 and get_kernelized_layers(restored) == KernelizedLayers()
    with use_kernel_mapping({"double": {"cpu": InMemoryRepository(TimesTen)}}):
        kernelize(restored, mode=Mode.INFERENCE, device="cpu")
    assert restored(ONE).tolist() == [10.0] * 3 and model(ONE).tolist() == [10.0] * 3
