#pragma once

#include <torch/torch.h>

// Elementwise ReLU: writes max(input, 0) into `out`.
//
// Both tensors must be contiguous, have the same shape and dtype, and live
// on the device of the backend the extension was built for.
void relu(torch::Tensor &out, torch::Tensor const &input);
