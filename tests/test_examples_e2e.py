"""examples/activation and examples/rmsnorm: build (CPU variant here) -> kernels_ci tests -> loader -> layers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import kernels
from kernels.layer.validation import validate_layer

from e2e_support import BuiltKernel
from kernel_builder.build.local import make_import_root


@pytest.fixture(params=["activation", "rmsnorm"])
def example_build(request: pytest.FixtureRequest) -> BuiltKernel:
    return request.getfixturevalue(f"{request.param}_build")


def test_example_kernel_tests_pass_against_the_build(example_build: BuiltKernel) -> None:
    """The kernel's own kernels_ci tests run with the variant on sys.path."""
    module = example_build.kernel_dir.name
    root = make_import_root(example_build.variant_dir, module, example_build.kernel_dir.parent / f"{module}-import-root")
    env = dict(os.environ, PYTHONPATH=str(root))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "kernels_ci", "-p", "no:cacheprovider",
         str(example_build.kernel_dir / "tests")],
        cwd=example_build.kernel_dir, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert " passed" in result.stdout


def test_metadata_and_card(example_build: BuiltKernel) -> None:
    name = example_build.kernel_dir.name
    backend = "cuda" if torch.version.cuda else "cpu"
    metadata = json.loads((example_build.variant_dir / "metadata.json").read_text())
    assert metadata["name"] == name
    assert metadata["id"] == f"_{name}_{backend}_e2e"
    card = (example_build.kernel_dir / "build" / "CARD.md").read_text()
    assert "{{" not in card
    assert f"kernels-test/{name}" in card
    assert "kernels benchmark" in card


def test_activation_through_the_loader(activation_build: BuiltKernel) -> None:
    activation = kernels.get_local_kernel(activation_build.kernel_dir)
    x = torch.randn(5, 2 * 24)
    out = torch.empty(5, 24)
    assert activation.silu_and_mul(out, x) is out
    torch.testing.assert_close(out, F.silu(x[:, :24]) * x[:, 24:])
    torch.testing.assert_close(activation.layers.GeluAndMul()(x), F.gelu(x[:, :24]) * x[:, 24:])
    torch.testing.assert_close(activation.layers.GeluTanh()(x), F.gelu(x, approximate="tanh"))
    assert sorted(activation.__all__) == sorted(
        ["gelu_and_mul", "gelu_fast", "gelu_tanh", "gelu_tanh_and_mul", "layers", "silu_and_mul"]
    )


def test_rmsnorm_through_the_loader(rmsnorm_build: BuiltKernel) -> None:
    rmsnorm = kernels.get_local_kernel(rmsnorm_build.kernel_dir)
    x = torch.randn(7, 96)
    w = torch.rand(96) + 0.5
    expected = w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5))
    torch.testing.assert_close(rmsnorm.rms_norm(x, w, 1e-5), expected)


class _SiLUAndMulModel(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1] // 2
        return F.silu(x[..., :d]) * x[..., d:]


class _GELUModel(torch.nn.Module):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.gelu(input, approximate="tanh")


class _LlamaRMSNorm(torch.nn.Module):
    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        h = hidden_states.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(hidden_states.dtype)


def test_layers_follow_the_layer_rules(activation_build: BuiltKernel, rmsnorm_build: BuiltKernel) -> None:
    activation = kernels.get_local_kernel(activation_build.kernel_dir)
    rmsnorm = kernels.get_local_kernel(rmsnorm_build.kernel_dir)
    for name in ("SiluAndMul", "GeluAndMul", "GeluTanhAndMul"):
        validate_layer(getattr(activation.layers, name), replaces=_SiLUAndMulModel, layer_name=name, repo="activation")
    for name in ("FastGELU", "GeluTanh"):
        validate_layer(getattr(activation.layers, name), replaces=_GELUModel, layer_name=name, repo="activation")
    validate_layer(rmsnorm.layers.RMSNorm, replaces=_LlamaRMSNorm, layer_name="RMSNorm", repo="rmsnorm")


def test_rmsnorm_layer_replaces_the_forward_of_a_model_layer(rmsnorm_build: BuiltKernel) -> None:
    rmsnorm = kernels.get_local_kernel(rmsnorm_build.kernel_dir)
    model = _LlamaRMSNorm(64, eps=1e-5)
    with torch.no_grad():
        model.weight.copy_(torch.linspace(0.5, 2.0, 64))
    x = torch.randn(3, 4, 64)
    expected = model(x)
    # What kernelize does: the kernel layer's forward bound to the model.
    with torch.no_grad():
        torch.testing.assert_close(rmsnorm.layers.RMSNorm.forward(model, x), expected)


def _llama_like_model(kernels_module):
    """A tiny Llama-style block whose norm and gate are extensible (as in transformers)."""

    @kernels_module.use_kernel_forward_from_hub("LlamaRMSNorm")
    class Norm(_LlamaRMSNorm):
        pass

    @kernels_module.use_kernel_forward_from_hub("SiluAndMul")
    class Gate(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            d = x.shape[-1] // 2
            return F.silu(x[..., :d]) * x[..., d:]

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = Norm(64, eps=1e-5)
            self.up = torch.nn.Linear(64, 128)
            self.gate = Gate()
            self.down = torch.nn.Linear(64, 64)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.down(self.gate(self.up(self.norm(x))))

    torch.manual_seed(0)
    block = Block()
    with torch.no_grad():
        block.norm.weight.copy_(torch.linspace(0.5, 2.0, 64))
    return block


def test_kernelize_with_the_built_rmsnorm_layers_compiles_without_graph_breaks(rmsnorm_build: BuiltKernel) -> None:
    from kernels import LocalLayerRepository, Mode, kernelize, use_kernel_mapping

    model = _llama_like_model(kernels).eval()
    x = torch.randn(2, 5, 64)
    with torch.no_grad():
        expected = model(x)
    original_norm_forward = type(model.norm).forward
    mapping = {
        name: {"cpu": LocalLayerRepository(repo_path=rmsnorm_build.kernel_dir, package_name="rmsnorm", layer_name=name)}
        for name in ("LlamaRMSNorm", "SiluAndMul")
    }
    with use_kernel_mapping(mapping, inherit_mapping=False):
        kernelize(model, mode=Mode.INFERENCE | Mode.TORCH_COMPILE, device="cpu")
        assert model.norm.forward.__func__ is not original_norm_forward
        with torch.no_grad():
            torch.testing.assert_close(model(x), expected)
            torch._dynamo.reset()
            compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
            with torch._dynamo.config.patch(error_on_recompile=True):
                torch.testing.assert_close(compiled(x), expected)
                torch.testing.assert_close(compiled(x + 1), model(x + 1))
        # The norm kernel has no backward: for training kernelize keeps the original forward.
        kernelize(model, mode=Mode.TRAINING, device="cpu")
        assert type(model.norm).forward is original_norm_forward
        assert getattr(model.norm.forward, "__func__", None) in (None, original_norm_forward)
