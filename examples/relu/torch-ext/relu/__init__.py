"""ReLU activation kernel (CPU and CUDA)."""

from typing import Optional

import torch

from ._ops import add_op_namespace_prefix, ops


def relu(x: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Compute ``max(x, 0)`` elementwise.

    Args:
        x: a contiguous floating point tensor (float32, float16 or bfloat16).
        out: optional contiguous tensor with the shape, dtype and device of
            ``x`` that receives the result. A new tensor is allocated when
            omitted.

    Returns:
        The tensor holding the result (``out`` when it was given).
    """
    if out is None:
        out = torch.empty_like(x)
    ops.relu(out, x)
    return out


# The op mutates `out` and returns nothing, so its fake (meta) implementation
# has nothing to compute; it only lets torch.compile trace through the op.
@torch.library.register_fake(add_op_namespace_prefix("relu"))
def _relu_fake(out: torch.Tensor, input: torch.Tensor) -> None:
    torch._check(
        out.shape == input.shape,
        lambda: f"relu: out shape {tuple(out.shape)} != input shape {tuple(input.shape)}",
    )
    return None


from . import layers  # noqa: E402

__all__ = ["relu", "layers"]
