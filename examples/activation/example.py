"""Load the locally built activation kernel and check it against PyTorch.

Build the kernel first (for example with `kernel-builder build`), which
writes the build variants to `build/<variant>/` next to this file.
"""

from pathlib import Path

import torch
import torch.nn.functional as F

from kernels import get_local_kernel


def main() -> None:
    activation = get_local_kernel(Path(__file__).parent)

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    x = torch.randn(4, 16, device=device)

    out = torch.empty(4, 8, device=device)
    activation.silu_and_mul(out, x)
    torch.testing.assert_close(out, F.silu(x[:, :8]) * x[:, 8:])

    y = activation.layers.GeluTanh()(x)
    torch.testing.assert_close(y, F.gelu(x, approximate="tanh"))

    print(f"silu_and_mul on {device} (matches F.silu(x[:, :8]) * x[:, 8:]):")
    print(out)


if __name__ == "__main__":
    main()
