// CPU implementation of the activation ops: plain loops in float32 (the
// float16/bfloat16 values are converted per element), split over the intra-op
// thread pool. The formulas and rounding steps are those of the eager PyTorch
// reference, like the CUDA kernels' float32 path.

#include <ATen/MemoryOverlap.h>
#include <ATen/Parallel.h>
#include <torch/all.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "torch_binding.h"

namespace {

// Elements per task of at::parallel_for.
constexpr int64_t kGrainSize = 16384;

struct Silu {
  static float apply(float x) { return x / (1.0f + std::exp(-x)); }
};

struct GeluErf {
  static float apply(float x) {
    constexpr float kAlpha = 0.70710678118654752440f; // 1 / sqrt(2)
    return x * 0.5f * (1.0f + std::erf(x * kAlpha));
  }
};

struct GeluTanh {
  static float apply(float x) {
    constexpr float kBeta = 0.79788456080286535588f; // sqrt(2 / pi)
    constexpr float kKappa = 0.044715f;
    float const inner = kBeta * (x + kKappa * x * x * x);
    return 0.5f * x * (1.0f + std::tanh(inner));
  }
};

struct GeluFast {
  static float apply(float x) {
    return 0.5f * x *
           (1.0f + std::tanh(x * 0.7978845608f * (1.0f + 0.044715f * x * x)));
  }
};

template <typename F>
void dispatch_float_types(at::ScalarType type, char const *name, F &&f) {
  switch (type) {
  case at::ScalarType::Float:
    f(float{});
    break;
  case at::ScalarType::Half:
    f(c10::Half{});
    break;
  case at::ScalarType::BFloat16:
    f(c10::BFloat16{});
    break;
  default:
    TORCH_CHECK(false, name, ": unsupported dtype ", type,
                " (supported: float32, float16, bfloat16)");
  }
}

void check_common(char const *name, torch::Tensor const &out,
                  torch::Tensor const &input) {
  TORCH_CHECK(input.device().is_cpu(), name, ": input must be a CPU tensor");
  TORCH_CHECK(out.device().is_cpu(), name, ": out must be a CPU tensor");
  TORCH_CHECK(input.scalar_type() == out.scalar_type(), name,
              ": input and out must have the same dtype, got ",
              input.scalar_type(), " and ", out.scalar_type());
  TORCH_CHECK(input.is_contiguous(), name, ": input must be contiguous");
  TORCH_CHECK(out.is_contiguous(), name, ": out must be contiguous");
}

template <typename Act>
void gated(char const *name, torch::Tensor &out, torch::Tensor const &input) {
  check_common(name, out, input);
  TORCH_CHECK(input.dim() >= 1, name, ": input must have at least one dimension");
  int64_t const two_d = input.size(-1);
  TORCH_CHECK(two_d % 2 == 0, name,
              ": the last dimension of input must be even, got ", two_d);
  int64_t const d = two_d / 2;
  std::vector<int64_t> expected(input.sizes().begin(), input.sizes().end());
  expected.back() = d;
  TORCH_CHECK(out.sizes() == at::IntArrayRef(expected), name,
              ": out must have shape ", at::IntArrayRef(expected), ", got ",
              out.sizes());
  if (out.numel() == 0) {
    return;
  }
  at::assert_no_overlap(out, input);
  int64_t const rows = out.numel() / d;

  dispatch_float_types(input.scalar_type(), name, [&](auto tag) {
    using scalar_t = decltype(tag);
    scalar_t *dst = out.data_ptr<scalar_t>();
    scalar_t const *src = input.data_ptr<scalar_t>();
    int64_t const grain = std::max<int64_t>(1, kGrainSize / d);
    at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        scalar_t const *gate = src + r * 2 * d;
        scalar_t const *up = gate + d;
        scalar_t *o = dst + r * d;
        for (int64_t i = 0; i < d; ++i) {
          // The activation is rounded to the tensor dtype before the
          // multiplication, as eager PyTorch does for `act(gate) * up`.
          float const act = static_cast<float>(
              static_cast<scalar_t>(Act::apply(static_cast<float>(gate[i]))));
          o[i] = static_cast<scalar_t>(act * static_cast<float>(up[i]));
        }
      }
    });
  });
}

template <typename Act>
void unary(char const *name, torch::Tensor &out, torch::Tensor const &input) {
  check_common(name, out, input);
  TORCH_CHECK(out.sizes() == input.sizes(), name,
              ": input and out must have the same shape, got ", input.sizes(),
              " and ", out.sizes());
  int64_t const numel = input.numel();
  if (numel == 0) {
    return;
  }
  at::assert_no_partial_overlap(out, input);

  dispatch_float_types(input.scalar_type(), name, [&](auto tag) {
    using scalar_t = decltype(tag);
    scalar_t *dst = out.data_ptr<scalar_t>();
    scalar_t const *src = input.data_ptr<scalar_t>();
    at::parallel_for(0, numel, kGrainSize, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        dst[i] = static_cast<scalar_t>(Act::apply(static_cast<float>(src[i])));
      }
    });
  });
}

} // namespace

void silu_and_mul(torch::Tensor &out, torch::Tensor const &input) {
  gated<Silu>("silu_and_mul", out, input);
}

void gelu_and_mul(torch::Tensor &out, torch::Tensor const &input) {
  gated<GeluErf>("gelu_and_mul", out, input);
}

void gelu_tanh_and_mul(torch::Tensor &out, torch::Tensor const &input) {
  gated<GeluTanh>("gelu_tanh_and_mul", out, input);
}

void gelu_fast(torch::Tensor &out, torch::Tensor const &input) {
  unary<GeluFast>("gelu_fast", out, input);
}

void gelu_tanh(torch::Tensor &out, torch::Tensor const &input) {
  unary<GeluTanh>("gelu_tanh", out, input);
}
