"""RMS normalisation kernel (CPU and CUDA)."""

from typing import Optional

import torch

from ._ops import add_op_namespace_prefix, ops


def rms_norm(
    x: torch.Tensor,
    weight: torch.Tensor,
    epsilon: float = 1e-6,
    out: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Normalise ``x`` over its last dimension and scale by ``weight``.

    Computes ``weight * (x * rsqrt(mean(x**2, -1) + epsilon))`` with float32
    accumulation; for float16/bfloat16 the normalised value is rounded to the
    dtype before the multiplication, as transformers' ``LlamaRMSNorm`` does.

    Args:
        x: contiguous float32, float16 or bfloat16 tensor ``[..., hidden]``.
        weight: contiguous tensor ``[hidden]`` of the dtype of ``x``.
        epsilon: added to the mean of the squares.
        out: optional contiguous tensor of the shape and dtype of ``x`` (it
            may be ``x`` itself). A new tensor is allocated when omitted.

    Returns:
        The tensor holding the result (``out`` when it was given).
    """
    if out is None:
        out = torch.empty_like(x)
    ops.rms_norm(out, x, weight, epsilon)
    return out


# The op mutates `out` and returns nothing, so its fake (meta) implementation
# only checks shapes; it lets torch.compile trace through the op.
@torch.library.register_fake(add_op_namespace_prefix("rms_norm"))
def _rms_norm_fake(out: torch.Tensor, input: torch.Tensor, weight: torch.Tensor, epsilon: float) -> None:
    torch._check(
        out.shape == input.shape,
        lambda: f"rms_norm: out shape {tuple(out.shape)} != input shape {tuple(input.shape)}",
    )
    torch._check(
        weight.dim() == 1 and weight.shape[0] == input.shape[-1],
        lambda: f"rms_norm: weight must have shape [{input.shape[-1]}], got {tuple(weight.shape)}",
    )
    return None


from . import layers  # noqa: E402

__all__ = ["layers", "rms_norm"]
