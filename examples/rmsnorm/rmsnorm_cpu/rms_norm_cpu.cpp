// CPU implementation of rms_norm: one row at a time (rows split over the
// intra-op thread pool), float64 accumulation of the squares, the rounding steps of the
// CUDA kernel and of transformers' LlamaRMSNorm.

#include <ATen/MemoryOverlap.h>
#include <ATen/Parallel.h>
#include <torch/all.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "torch_binding.h"

namespace {

// Elements per task of at::parallel_for.
constexpr int64_t kGrainSize = 32768;

template <typename scalar_t>
void rms_norm_rows(scalar_t *out, scalar_t const *input, scalar_t const *weight,
                   int64_t rows, int64_t hidden, float eps) {
  int64_t const grain = std::max<int64_t>(1, kGrainSize / hidden);
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      scalar_t const *x = input + r * hidden;
      scalar_t *o = out + r * hidden;
      // A double accumulator keeps the sequential sum as accurate as the
      // tree reductions of the CUDA kernel and of torch.mean.
      double sum_sq = 0.0;
      for (int64_t i = 0; i < hidden; ++i) {
        double const f = static_cast<float>(x[i]);
        sum_sq += f * f;
      }
      float const mean_sq = static_cast<float>(sum_sq / static_cast<double>(hidden));
      float const inv_rms = 1.0f / std::sqrt(mean_sq + eps);
      for (int64_t i = 0; i < hidden; ++i) {
        float const n = static_cast<float>(
            static_cast<scalar_t>(static_cast<float>(x[i]) * inv_rms));
        o[i] = static_cast<scalar_t>(static_cast<float>(weight[i]) * n);
      }
    }
  });
}

} // namespace

void rms_norm(torch::Tensor &out, torch::Tensor const &input,
              torch::Tensor const &weight, double epsilon) {
  TORCH_CHECK(input.device().is_cpu() && weight.device().is_cpu() &&
                  out.device().is_cpu(),
              "rms_norm: input, weight and out must be CPU tensors, got ",
              input.device(), ", ", weight.device(), " and ", out.device());
  TORCH_CHECK(input.scalar_type() == out.scalar_type() &&
                  input.scalar_type() == weight.scalar_type(),
              "rms_norm: input, weight and out must have the same dtype, got ",
              input.scalar_type(), ", ", weight.scalar_type(), " and ",
              out.scalar_type());
  TORCH_CHECK(input.dim() >= 1, "rms_norm: input must have at least one dimension");
  TORCH_CHECK(out.sizes() == input.sizes(),
              "rms_norm: input and out must have the same shape, got ",
              input.sizes(), " and ", out.sizes());
  int64_t const hidden = input.size(-1);
  TORCH_CHECK(weight.dim() == 1 && weight.size(0) == hidden,
              "rms_norm: weight must have shape [", hidden, "], got ",
              weight.sizes());
  TORCH_CHECK(input.is_contiguous(), "rms_norm: input must be contiguous");
  TORCH_CHECK(out.is_contiguous(), "rms_norm: out must be contiguous");
  TORCH_CHECK(weight.is_contiguous(), "rms_norm: weight must be contiguous");
  if (input.numel() == 0) {
    return;
  }
  at::assert_no_partial_overlap(out, input);
  at::assert_no_overlap(out, weight);
  int64_t const rows = input.numel() / hidden;
  float const eps = static_cast<float>(epsilon);

  switch (input.scalar_type()) {
  case at::ScalarType::Float:
    rms_norm_rows(out.data_ptr<float>(), input.data_ptr<float>(),
                  weight.data_ptr<float>(), rows, hidden, eps);
    break;
  case at::ScalarType::Half:
    rms_norm_rows(out.data_ptr<c10::Half>(), input.data_ptr<c10::Half>(),
                  weight.data_ptr<c10::Half>(), rows, hidden, eps);
    break;
  case at::ScalarType::BFloat16:
    rms_norm_rows(out.data_ptr<c10::BFloat16>(), input.data_ptr<c10::BFloat16>(),
                  weight.data_ptr<c10::BFloat16>(), rows, hidden, eps);
    break;
  default:
    TORCH_CHECK(false, "rms_norm: unsupported dtype ", input.scalar_type(),
                " (supported: float32, float16, bfloat16)");
  }
}
