"""transformers (optional): its kernels integration runs, unmodified, on this package.

Skipped when transformers is not installed (it is not a dependency). The
checks run in a subprocess so that transformers' import-time detection of
``kernels`` sees a fresh interpreter. transformers only enables its
integration for the ``kernels`` API window it was written for (the test
requirements pin the newest transformers written for 0.17.x);
``test_transformers_accepts_this_kernels_version`` checks that we are in it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("transformers") is None, reason="transformers is not installed (optional)"
)

RMSNORM_LAYER = '''
import torch
from torch import nn


class LlamaRMSNorm(nn.Module):
    """RMS norm using the adopting module's `weight` and `variance_epsilon`."""

    weight: torch.Tensor
    variance_epsilon: float

    has_backward = True
    can_torch_compile = True

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        dtype = hidden_states.dtype
        x = hidden_states.float()
        x = x * torch.rsqrt(x.square().mean(dim=-1, keepdim=True) + self.variance_epsilon)
        return self.weight * x.to(dtype)
'''

CHECK_SCRIPT = r'''
import ast, json, sys
from pathlib import Path

import torch
import kernels
import transformers
import transformers.integrations.hub_kernels as hub_kernels
from transformers.utils.import_utils import is_kernels_available

result = {"available": is_kernels_available(), "enabled": getattr(hub_kernels, "_kernels_enabled", None)}

# Every name transformers imports from kernels exists here.
needed = set()
for path in Path(transformers.__file__).parent.rglob("*.py"):
    text = path.read_text(encoding="utf-8")
    if "kernels import" not in text:
        continue
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module == "kernels" and node.level == 0:
            needed.update(alias.name for alias in node.names)
result["needed"] = sorted(needed)
result["missing"] = sorted(n for n in needed if not hasattr(kernels, n))

# transformers' own default mapping registers (validating every entry against our API).
with kernels.use_kernel_mapping({}):
    hub_kernels.register_kernel_mapping_transformers()
    result["default_mapping_layers"] = len(kernels.layer.mapping.current_mapping())

from transformers import LlamaConfig, LlamaForCausalLM

device = sys.argv[2]
dtype = torch.float32 if device == "cpu" else torch.bfloat16
config = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
torch.manual_seed(0)
model = LlamaForCausalLM(config).to(device=device, dtype=dtype).eval()
input_ids = torch.randint(0, config.vocab_size, (2, 16), device=device)
with torch.no_grad():
    reference = model(input_ids).logits.float()

norms = [m for m in model.modules() if type(m).__name__ == "LlamaRMSNorm"]
repo = kernels.LocalLayerRepository(repo_path=Path(sys.argv[1]), layer_name="LlamaRMSNorm")
with kernels.use_kernel_mapping({}):
    hub_kernels.register_kernel_mapping_transformers()
    with kernels.use_kernel_mapping({"RMSNorm": {device if device == "cpu" else "cuda": repo}}):
        hub_kernels.kernelize(model, mode=kernels.Mode.INFERENCE)
result["norms"] = len(norms)
result["kernelized_norms"] = sum(
    1 for m in norms if "forward" in vars(m) and m.forward.__func__.__module__.startswith("fake_kernel_rmsnorm")
)
with torch.no_grad():
    logits = model(input_ids).logits.float()
result["max_abs_diff"] = (logits - reference).abs().max().item()
result["use_kernels"] = bool(model.use_kernels)

if device != "cpu":
    # transformers' KernelConfig path (local kernels; KernelConfig does not accept cpu).
    from transformers import KernelConfig

    torch.manual_seed(0)
    model2 = LlamaForCausalLM(config).to(device=device, dtype=dtype).eval()
    kernel_config = KernelConfig({"RMSNorm": f"{sys.argv[1]}:LlamaRMSNorm"}, use_local_kernel=True)
    model2.set_use_kernels(True, kernel_config)
    with torch.no_grad():
        result["kernel_config_max_abs_diff"] = (model2(input_ids).logits.float() - reference).abs().max().item()
    result["kernel_config_kernelized"] = sum(
        1 for m in model2.modules() if type(m).__name__ == "LlamaRMSNorm" and "forward" in vars(m)
    )
print("RESULT " + json.dumps(result))
'''


def _transformers_kernels_range() -> tuple[str, str]:
    code = ("from transformers.utils.import_utils import KERNELS_MIN_VERSION as a, KERNELS_MAX_VERSION as b; "
            "print(a, b)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    low, high = out.split()
    return low, high


def _our_version() -> str:
    try:
        return importlib.metadata.version("kernels")
    except importlib.metadata.PackageNotFoundError:  # Source checkout on sys.path, not installed.
        import kernels

        return kernels.__version__


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error", TOKENIZERS_PARALLELISM="false")
    env.pop("LOCAL_KERNELS", None)
    env.pop("DISABLE_KERNEL_MAPPING", None)
    return env


def _kernel(tmp_path: Path) -> Path:
    variant = tmp_path / "rmsnorm" / "build" / "torch-universal"
    variant.mkdir(parents=True)
    (variant / "metadata.json").write_text(json.dumps({
        "id": "_fake_kernel_rmsnorm_0", "name": "fake-kernel-rmsnorm", "version": 1, "license": "Apache-2.0",
        "backend": {"type": "cpu"},
    }))
    (variant / "__init__.py").write_text("from . import layers\n\n__all__ = ['layers']\n")
    (variant / "layers.py").write_text(RMSNORM_LAYER)
    return tmp_path / "rmsnorm"


def _run(tmp_path: Path, device: str) -> dict:
    script = tmp_path / "check.py"
    script.write_text(CHECK_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(_kernel(tmp_path)), device], capture_output=True,
                          text=True, env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [line] = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line[len("RESULT "):])


def test_transformers_integration_and_llama_logits(tmp_path: Path) -> None:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    result = _run(tmp_path, device)
    print(json.dumps(result, indent=2))
    assert result["available"] and result["enabled"]
    assert result["missing"] == []
    assert {"kernelize", "use_kernel_forward_from_hub", "LayerRepository", "Mode"} <= set(result["needed"])
    assert result["default_mapping_layers"] > 10
    assert result["norms"] == 5 and result["kernelized_norms"] == 5  # 2 layers x 2 norms + final norm
    assert result["use_kernels"]
    assert result["max_abs_diff"] <= (1e-5 if device == "cpu" else 2e-2)
    if device != "cpu":
        assert result["kernel_config_kernelized"] == 5
        assert result["kernel_config_max_abs_diff"] <= 2e-2


def test_transformers_accepts_this_kernels_version() -> None:
    """transformers enables its kernels integration only inside the API window it was written for."""
    low, high = _transformers_kernels_range()
    assert Version(low) <= Version(_our_version()) < Version(high), (
        f"transformers accepts kernels >= {low}, < {high}; this package is {_our_version()}"
    )
