"""Pure layers that replace the ``forward`` of activation modules.

None of them has state: no constructor, no methods other than ``forward``.
Inputs that are not contiguous are copied first; the output is a new tensor.
"""

import torch
import torch.nn as nn

from ._ops import ops


def _gated_out(x: torch.Tensor) -> torch.Tensor:
    d = x.shape[-1] // 2
    return torch.empty(x.shape[:-1] + (d,), dtype=x.dtype, device=x.device)


class SiluAndMul(nn.Module):
    """SwiGLU: ``x -> silu(x[..., :d]) * x[..., d:]`` with ``d = x.shape[-1] // 2``."""

    has_backward: bool = False
    can_torch_compile: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = _gated_out(x)
        ops.silu_and_mul(out, x)
        return out


class GeluAndMul(nn.Module):
    """GeGLU: ``x -> gelu(x[..., :d]) * x[..., d:]`` with the exact (erf) GELU."""

    has_backward: bool = False
    can_torch_compile: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = _gated_out(x)
        ops.gelu_and_mul(out, x)
        return out


class GeluTanhAndMul(nn.Module):
    """GeGLU with the tanh approximation of GELU."""

    has_backward: bool = False
    can_torch_compile: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = _gated_out(x)
        ops.gelu_tanh_and_mul(out, x)
        return out


class FastGELU(nn.Module):
    """``0.5 * x * (1 + tanh(0.7978845608 * x * (1 + 0.044715 * x * x)))``."""

    has_backward: bool = False
    can_torch_compile: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty_like(x)
        ops.gelu_fast(out, x)
        return out


class GeluTanh(nn.Module):
    """``torch.nn.functional.gelu(x, approximate="tanh")``."""

    has_backward: bool = False
    can_torch_compile: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty_like(x)
        ops.gelu_tanh(out, x)
        return out
