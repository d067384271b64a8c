"""transformers (from the registry, unmodified) kernelizing a Llama model with the locally built LlamaRMSNorm.

Skipped when transformers is not installed. transformers enables its kernels
integration only for the kernels versions it was written for; when ours is
outside that window the subprocess sees a metadata-only version shim (the
code is still ours) — see python/tests/test_layer_transformers.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_support import BuiltKernel

pytestmark = pytest.mark.skipif(importlib.util.find_spec("transformers") is None,
                                reason="transformers is not installed (optional)")

SCRIPT = r'''
import json, sys
from pathlib import Path
import torch
import kernels
import transformers.integrations.hub_kernels as hub_kernels
from transformers import LlamaConfig, LlamaForCausalLM

config = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
torch.manual_seed(0)
model = LlamaForCausalLM(config).eval()
input_ids = torch.randint(0, config.vocab_size, (2, 16))
with torch.no_grad():
    reference = model(input_ids).logits
repo = kernels.LocalLayerRepository(repo_path=Path(sys.argv[1]), layer_name="LlamaRMSNorm")
with kernels.use_kernel_mapping({"RMSNorm": {"cpu": repo}}, inherit_mapping=False):
    hub_kernels.kernelize(model, mode=kernels.Mode.INFERENCE)
norms = [m for m in model.modules() if type(m).__name__ == "LlamaRMSNorm"]
kernelized = sum(1 for m in norms if "forward" in vars(m) and "rmsnorm" in m.forward.__func__.__module__)
with torch.no_grad():
    logits = model(input_ids).logits
print("RESULT " + json.dumps({"norms": len(norms), "kernelized": kernelized,
                              "max_abs_diff": (logits - reference).abs().max().item()}))
'''


def _version_shim(tmp_path: Path, env: dict[str, str]) -> None:
    code = "from transformers.utils.import_utils import KERNELS_MIN_VERSION as a, KERNELS_MAX_VERSION as b; print(a, b)"
    low, high = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    from importlib.metadata import version
    from packaging.version import Version

    if not Version(low) <= Version(version("kernels")) < Version(high):
        dist_info = tmp_path / "shim" / f"kernels-{low}.dist-info"
        dist_info.mkdir(parents=True)
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: kernels\nVersion: {low}\n")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tmp_path / "shim"), env.get("PYTHONPATH")) if p)


def test_llama_logits_with_the_built_rmsnorm(rmsnorm_build: BuiltKernel, tmp_path: Path) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    env.pop("LOCAL_KERNELS", None)
    _version_shim(tmp_path, env)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(rmsnorm_build.kernel_dir)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [line] = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    result = json.loads(line[len("RESULT "):])
    assert result["norms"] == 5 and result["kernelized"] == 5  # 2 layers x 2 norms + the final norm
    assert result["max_abs_diff"] <= 1e-4
