"""Pure layers that replace the ``forward`` of RMS normalisation modules."""

import torch
import torch.nn as nn

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
        x = hidden_states.contiguous()
        out = torch.empty_like(x)
        ops.rms_norm(out, x, self.weight, self.variance_epsilon)
        return out
