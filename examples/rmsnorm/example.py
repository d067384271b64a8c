"""Load the locally built rmsnorm kernel and check it against PyTorch.

Build the kernel first (for example with `kernel-builder build`), which
writes the build variants to `build/<variant>/` next to this file.
"""

from pathlib import Path

import torch

from kernels import get_local_kernel


def llama_rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(x.dtype)


def main() -> None:
    rmsnorm = get_local_kernel(Path(__file__).parent)

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    x = torch.randn(4, 8, device=device)
    weight = torch.linspace(0.5, 1.5, 8, device=device)

    y = rmsnorm.rms_norm(x, weight, 1e-6)

    torch.testing.assert_close(y, llama_rms_norm(x, weight, 1e-6))
    print(f"rms_norm on {device} (matches LlamaRMSNorm):")
    print(y)


if __name__ == "__main__":
    main()
