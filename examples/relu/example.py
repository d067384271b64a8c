"""Load the locally built relu kernel and run it on a random tensor.

Build the kernel first (for example with `kernel-builder build`), which
writes the build variants to `build/<variant>/` next to this file.
"""

from pathlib import Path

import torch

from kernels import get_local_kernel


def main() -> None:
    relu = get_local_kernel(Path(__file__).parent)

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    x = torch.randn(4, 8, device=device)

    y = relu.relu(x)

    torch.testing.assert_close(y, torch.relu(x), rtol=0.0, atol=0.0)
    print(f"Input ({device}):")
    print(x)
    print("Output of the relu kernel (matches torch.relu):")
    print(y)


if __name__ == "__main__":
    main()
