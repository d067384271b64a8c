"""transformers' Llama, kernelized with a built ``LlamaRMSNorm``, against the plain model.

    python tests/llama_rmsnorm_check.py KERNEL_DIR [--device cuda] [--dtype bfloat16]

KERNEL_DIR is a built kernel project (``examples/rmsnorm`` after
``kernel-builder build``). A small Llama model is made from a config (nothing
is downloaded), its logits are computed, then transformers' own ``kernelize``
swaps every ``LlamaRMSNorm`` for the kernel's layer through a
``LocalLayerRepository`` mapping and the logits are computed again.

The tolerance is the dtype's own noise: for float32 1e-4; for a lower
precision, twice the difference between the plain model in that dtype and in
float32 (the kernel may round differently from PyTorch, but must not be less
accurate than running the model in that dtype at all).

Prints one ``RESULT {json}`` line and exits 1 when the logits differ by more
than the tolerance or a norm was not kernelized. Used by
tests/test_transformers_e2e.py (CPU) and bench/run_gpu.sh (CUDA).

Runs from source as well as installed: versions come from the packages'
``__version__``, never from installed-distribution metadata. transformers
enables its kernels integration only for the ``kernels`` window it was
written for (``KERNELS_MIN_VERSION <= kernels < KERNELS_MAX_VERSION`` in
``transformers.utils.import_utils``); when the installed transformers does
not accept this package's version, the check exits 2 with one line naming the
transformers releases that do (requirements-test.txt pins one).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Optional

#: transformers releases whose kernels window accepts each kernels API level this package implements
#: (read from their transformers/utils/import_utils.py: 5.17.0 accepts no 0.17.x, 5.18.0-5.20.x accept
#: 0.17.0 <= kernels < 0.18, 5.21.0-5.22.2 accept 0.17.2 <= kernels < 0.18).
TRANSFORMERS_FOR_KERNELS = {"0.17": ">=5.18,<5.23"}


def integration_problem(transformers_version: str, kernels_version: str, window: Optional[tuple[str, str]],
                        enabled: bool) -> Optional[str]:
    """One line saying why transformers will not use our kernels, or None when it will."""
    if enabled:
        return None
    accepts = f"kernels >={window[0]},<{window[1]}" if window else "no kernels version it can read"
    api_level = ".".join(kernels_version.split(".")[:2])
    needed = TRANSFORMERS_FOR_KERNELS.get(api_level)
    advice = (f"use transformers{needed} (requirements-test.txt pins one)" if needed
              else "use a transformers release written for this kernels API level")
    return (f"transformers {transformers_version} does not enable its kernels integration for kernels "
            f"{kernels_version} (it accepts {accepts}): {advice}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kernel_dir", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    args = parser.parse_args(argv)
    if not (args.kernel_dir / "build").is_dir():
        parser.error(f"{args.kernel_dir}: not a built kernel project (no build/ directory); "
                     "run `kernel-builder build` on it first")

    import torch

    import kernels
    import transformers
    import transformers.integrations.hub_kernels as hub_kernels
    import transformers.utils.import_utils as import_utils
    from transformers import LlamaConfig, LlamaForCausalLM

    window = None
    if hasattr(import_utils, "KERNELS_MIN_VERSION") and hasattr(import_utils, "KERNELS_MAX_VERSION"):
        window = (import_utils.KERNELS_MIN_VERSION, import_utils.KERNELS_MAX_VERSION)
    enabled = bool(import_utils.is_kernels_available())
    problem = integration_problem(transformers.__version__, kernels.__version__, window, enabled)
    if problem:
        print(f"llama_rmsnorm_check.py: {problem}", file=sys.stderr)
        return 2

    dtype = getattr(torch, args.dtype)
    config = LlamaConfig(vocab_size=256, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    torch.manual_seed(0)
    model_fp32 = LlamaForCausalLM(config).eval().to(args.device)
    model = copy.deepcopy(model_fp32).to(dtype)
    input_ids = torch.randint(0, config.vocab_size, (2, 16), device=args.device)
    with torch.no_grad():
        reference_fp32 = model_fp32(input_ids).logits
        reference = model(input_ids).logits

    repo = kernels.LocalLayerRepository(repo_path=args.kernel_dir, layer_name="LlamaRMSNorm")
    device_type = torch.device(args.device).type
    with kernels.use_kernel_mapping({"RMSNorm": {device_type: repo}}, inherit_mapping=False):
        hub_kernels.kernelize(model, mode=kernels.Mode.INFERENCE)
    norms = [m for m in model.modules() if type(m).__name__ == "LlamaRMSNorm"]
    kernelized = sum(1 for m in norms if "forward" in vars(m) and "rmsnorm" in m.forward.__func__.__module__)
    with torch.no_grad():
        logits = model(input_ids).logits

    dtype_noise = (reference.float() - reference_fp32).abs().max().item()
    tolerance = 1e-4 if dtype == torch.float32 else max(1e-4, 2 * dtype_noise)
    max_abs_diff = (logits.float() - reference.float()).abs().max().item()
    result = {
        "device": torch.cuda.get_device_name() if device_type == "cuda" else device_type,
        "dtype": args.dtype, "torch": torch.__version__,
        "transformers": transformers.__version__,
        "kernels": kernels.__version__,
        "kernels_enabled_by_transformers": enabled,
        "norms": len(norms), "kernelized": kernelized,
        "max_abs_logit": reference.float().abs().max().item(),
        "max_abs_diff": max_abs_diff, "dtype_noise_vs_fp32": dtype_noise, "tolerance": tolerance,
    }
    print("RESULT " + json.dumps(result))
    ok = enabled and norms and kernelized == len(norms) and max_abs_diff <= tolerance
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
