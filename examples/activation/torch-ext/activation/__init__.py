"""Activation kernels for transformer MLPs (CPU and CUDA).

Gated activations take ``x`` of shape ``[..., 2 * d]`` and write
``act(x[..., :d]) * x[..., d:]`` to ``out`` of shape ``[..., d]``;
elementwise activations write ``act(x)`` to ``out`` of the shape of ``x``.
Every function returns ``out``. Tensors must be contiguous float32, float16
or bfloat16 tensors of one dtype and device.
"""

import torch

from ._ops import add_op_namespace_prefix, ops


def silu_and_mul(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """SwiGLU: ``silu(x[..., :d]) * x[..., d:]``."""
    ops.silu_and_mul(out, x)
    return out


def gelu_and_mul(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """GeGLU: ``gelu(x[..., :d]) * x[..., d:]`` with the exact (erf) GELU."""
    ops.gelu_and_mul(out, x)
    return out


def gelu_tanh_and_mul(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """GeGLU with the tanh approximation: ``gelu(x[..., :d], approximate="tanh") * x[..., d:]``."""
    ops.gelu_tanh_and_mul(out, x)
    return out


def gelu_fast(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``0.5 * x * (1 + tanh(0.7978845608 * x * (1 + 0.044715 * x * x)))``."""
    ops.gelu_fast(out, x)
    return out


def gelu_tanh(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``torch.nn.functional.gelu(x, approximate="tanh")``; ``out`` may be ``x``."""
    ops.gelu_tanh(out, x)
    return out


# The ops mutate `out` and return nothing, so their fake (meta)
# implementations only check shapes; they let torch.compile trace the ops.
def _register_gated_fake(name: str) -> None:
    @torch.library.register_fake(add_op_namespace_prefix(name))
    def _fake(out: torch.Tensor, input: torch.Tensor) -> None:
        torch._check(
            input.shape[-1] % 2 == 0,
            lambda: f"{name}: the last dimension of input must be even, got {input.shape[-1]}",
        )
        expected = tuple(input.shape[:-1]) + (input.shape[-1] // 2,)
        torch._check(
            tuple(out.shape) == expected,
            lambda: f"{name}: out must have shape {expected}, got {tuple(out.shape)}",
        )
        return None


def _register_unary_fake(name: str) -> None:
    @torch.library.register_fake(add_op_namespace_prefix(name))
    def _fake(out: torch.Tensor, input: torch.Tensor) -> None:
        torch._check(
            out.shape == input.shape,
            lambda: f"{name}: out shape {tuple(out.shape)} != input shape {tuple(input.shape)}",
        )
        return None


for _name in ("silu_and_mul", "gelu_and_mul", "gelu_tanh_and_mul"):
    _register_gated_fake(_name)
for _name in ("gelu_fast", "gelu_tanh"):
    _register_unary_fake(_name)


from . import layers  # noqa: E402

__all__ = [
    "gelu_and_mul",
    "gelu_fast",
    "gelu_tanh",
    "gelu_tanh_and_mul",
    "layers",
    "silu_and_mul",
]
