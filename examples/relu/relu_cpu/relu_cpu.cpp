#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/all.h>

#include <cstdint>

namespace {

// Elements handled per task by at::parallel_for. Small inputs run on the
// calling thread; large ones are split across the intra-op thread pool.
constexpr int64_t kGrainSize = 32768;

// Elements per chunk of the inner loop. A fixed trip count lets the compiler
// turn the chunk loops into branch-free SIMD code even at -O2.
constexpr int64_t kChunk = 16;

// `v < 0` is false for NaN (and -0.0), so NaN propagates like torch.relu.
template <typename scalar_t> inline scalar_t relu_value(scalar_t v) {
  scalar_t const zero = static_cast<scalar_t>(0);
  return v < zero ? zero : v;
}

// The 16-bit types are handled on their bit patterns, which avoids a round
// trip through float per element. A value is below zero when its sign bit
// is set and its magnitude lies in (0, inf]; -0.0 and NaN are kept, exactly
// as the comparison above does.
template <typename half_t, uint16_t kInfBits>
inline half_t relu_bits(half_t v) {
  uint16_t const magnitude = v.x & 0x7fff;
  bool const negative = (v.x & 0x8000) != 0 && magnitude != 0 &&
                        magnitude <= kInfBits;
  v.x = negative ? 0 : v.x;
  return v;
}

template <> inline c10::Half relu_value(c10::Half v) {
  return relu_bits<c10::Half, 0x7c00>(v);
}

template <> inline c10::BFloat16 relu_value(c10::BFloat16 v) {
  return relu_bits<c10::BFloat16, 0x7f80>(v);
}

template <typename scalar_t>
void relu_range(scalar_t *dst, scalar_t const *src, int64_t begin,
                int64_t end) {
  int64_t i = begin;
  for (; i + kChunk <= end; i += kChunk) {
    // Staging the chunk in a local buffer keeps in-place calls (dst == src)
    // well defined without the compiler having to assume aliasing.
    scalar_t buf[kChunk];
    for (int64_t j = 0; j < kChunk; ++j) {
      buf[j] = src[i + j];
    }
    for (int64_t j = 0; j < kChunk; ++j) {
      buf[j] = relu_value(buf[j]);
    }
    for (int64_t j = 0; j < kChunk; ++j) {
      dst[i + j] = buf[j];
    }
  }
  for (; i < end; ++i) {
    dst[i] = relu_value(src[i]);
  }
}

template <typename scalar_t>
void relu_cpu_impl(scalar_t *dst, scalar_t const *src, int64_t numel) {
  at::parallel_for(0, numel, kGrainSize, [&](int64_t begin, int64_t end) {
    relu_range(dst, src, begin, end);
  });
}

} // namespace

void relu(torch::Tensor &out, torch::Tensor const &input) {
  TORCH_CHECK(input.device().is_cpu(), "relu: input must be a CPU tensor");
  TORCH_CHECK(out.device().is_cpu(), "relu: out must be a CPU tensor");
  TORCH_CHECK(input.is_contiguous(), "relu: input must be contiguous");
  TORCH_CHECK(out.is_contiguous(), "relu: out must be contiguous");
  TORCH_CHECK(input.scalar_type() == out.scalar_type(),
              "relu: input and out must have the same dtype, got ",
              input.scalar_type(), " and ", out.scalar_type());
  TORCH_CHECK(input.sizes() == out.sizes(),
              "relu: input and out must have the same shape, got ",
              input.sizes(), " and ", out.sizes());

  int64_t const numel = input.numel();
  if (numel == 0) {
    return;
  }

  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::ScalarType::Half, at::ScalarType::BFloat16, input.scalar_type(),
      "relu_cpu", [&] {
        relu_cpu_impl<scalar_t>(out.data_ptr<scalar_t>(),
                                input.data_ptr<scalar_t>(), numel);
      });
}
