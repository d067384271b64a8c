"""Pure layers that replace the ``forward`` of RMS normalisation modules."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._ops import ops


class RMSNorm(nn.Module):
    """``forward`` of transformers' ``LlamaRMSNorm`` (and the many norms like it).

    Uses the ``weight`` and ``variance_epsilon`` of the module it is installed
    in; the weight must have the dtype of the hidden states. Inputs that are
    not contiguous are copied first.
    """

    weight: torch.Tensor
    variance_epsilon: float

    has_backward: bool = False
    can_torch_compile: bool = True

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return _rms_norm(hidden_states, self.weight, self.variance_epsilon)


class LlamaRMSNorm(nn.Module):
    """The same kernel under the name transformers' mappings use for Llama-style norms."""

    weight: torch.Tensor
    variance_epsilon: float

    # The op has no backward; it registers a fake, so torch.compile traces it.
    has_backward: bool = False
    can_torch_compile: bool = True

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return _rms_norm(hidden_states, self.weight, self.variance_epsilon)


class SiluAndMul(nn.Module):
    """SwiGLU gate: ``silu(x[..., :d]) * x[..., d:]`` with ``d = x.shape[-1] // 2``.

    Written with differentiable Torch operations, so it supports training and
    torch.compile (the fused CUDA version lives in examples/activation).
    """

    has_backward: bool = True
    can_torch_compile: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1] // 2
        return F.silu(x[..., :d]) * x[..., d:]


def _rms_norm(hidden_states: torch.Tensor, weight: torch.Tensor, epsilon: float) -> torch.Tensor:
    x = hidden_states.contiguous()
    out = torch.empty_like(x)
    ops.rms_norm(out, x, weight, epsilon)
    return out
