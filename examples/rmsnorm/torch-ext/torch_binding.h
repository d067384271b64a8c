#pragma once

#include <torch/torch.h>

// RMS normalisation over the last dimension:
//   out = weight * (input * rsqrt(mean(input^2, -1) + epsilon))
// with float32 accumulation; for 16-bit dtypes the normalised value is
// rounded to the dtype before the multiplication by `weight` (as
// transformers' LlamaRMSNorm does). `input` and `out` have the same shape
// ([..., hidden]; `out` may be `input`), `weight` has shape [hidden]; all
// three are contiguous and share one float32, float16 or bfloat16 dtype.
void rms_norm(torch::Tensor &out, torch::Tensor const &input,
              torch::Tensor const &weight, double epsilon);
