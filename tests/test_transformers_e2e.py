"""transformers (from the registry, unmodified) kernelizing a Llama model with the locally built LlamaRMSNorm.

The check itself is tests/llama_rmsnorm_check.py (bench/run_gpu.sh runs it on
CUDA). Skipped when transformers is not installed.
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

CHECK = Path(__file__).with_name("llama_rmsnorm_check.py")


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_llama_logits_with_the_built_rmsnorm(rmsnorm_build: BuiltKernel, dtype: str) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    env.pop("LOCAL_KERNELS", None)
    proc = subprocess.run([sys.executable, str(CHECK), str(rmsnorm_build.kernel_dir), "--dtype", dtype],
                          env=env, capture_output=True, text=True, timeout=600)
    [line] = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")] or [proc.stdout + proc.stderr]
    result = json.loads(line[len("RESULT "):])
    assert result["kernels_enabled_by_transformers"]
    assert result["norms"] == 5 and result["kernelized"] == 5  # 2 layers x 2 norms + the final norm
    assert result["max_abs_diff"] <= result["tolerance"], result
    assert proc.returncode == 0, proc.stdout + proc.stderr
