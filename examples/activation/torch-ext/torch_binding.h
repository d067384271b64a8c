#pragma once

#include <torch/torch.h>

// Gated activations: `input` has shape [..., 2 * d] and `out` [..., d];
// out = act(input[..., :d]) * input[..., d:].
void silu_and_mul(torch::Tensor &out, torch::Tensor const &input);
void gelu_and_mul(torch::Tensor &out, torch::Tensor const &input);
void gelu_tanh_and_mul(torch::Tensor &out, torch::Tensor const &input);

// Elementwise activations: `out` and `input` have the same shape (`out` may
// be `input` itself).
void gelu_fast(torch::Tensor &out, torch::Tensor const &input);
void gelu_tanh(torch::Tensor &out, torch::Tensor const &input);

// All ops take contiguous float32, float16 or bfloat16 tensors of one dtype
// on the device of the backend the extension was built for.
