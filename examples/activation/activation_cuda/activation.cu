// CUDA implementation of the activation ops.
//
// Two kernel shapes cover all ops:
//
// * gated ops (`silu_and_mul`, `gelu_and_mul`, `gelu_tanh_and_mul`) read
//   `input[..., :d]` (the gate) and `input[..., d:]` (the up projection) and
//   write `act(gate) * up` to `out[..., d]`. The grid is two-dimensional: x
//   covers the columns of a row in 16-byte vectors, y the rows. Each thread
//   handles `kRowsPerThread` rows with all their loads issued before the
//   first use. No integer division per element. Two rows (four 16-byte loads
//   in flight) suit a cheap activation (silu). The erf and tanh gates need
//   more registers: at the compiler's choice, only 5 blocks of 256 threads fit
//   an SM and the kernel reached 91% of the copy bandwidth on an H100 (ncu:
//   62% theoretical occupancy, limited by registers); one row per thread
//   and a launch bound of 8 blocks per SM (full occupancy, a few bytes of
//   spills) reach the copy bandwidth.
// * elementwise ops (`gelu_fast`, `gelu_tanh`): one 16-byte vector per
//   thread, then a scalar tail.
//
// The grid covers the whole tensor (one block per 256 vectors or row
// groups) rather than being persistent: measured on an H100 (bench/
// kernels_h100.py, persistent grid vs full grid, in one session), the full
// grid moves 5-10% more bytes per second, because the hardware starts a new
// block as soon as one retires and keeps the memory pipeline full, where a
// persistent block stalls on each of its iterations. The kernels still loop
// (grid-stride), so a grid capped by the hardware's limits stays correct.
//
// The vector path needs 16-byte aligned data pointers and, for gated ops, a
// row length divisible by the vector width; anything else runs the same
// kernels with one element per access (still coalesced).
//
// Arithmetic is in float32 for every dtype. The gated ops and the float32
// elementwise ops use the same formulas and rounding steps as PyTorch's eager
// reference (`F.silu(g) * u` rounds the activation to the tensor dtype before
// the multiplication), so they reproduce it. For float16/bfloat16, `gelu_tanh`
// and `gelu_fast` move only 4 bytes per element, where the ~30 instructions
// per element of the accurate `tanhf` path would take most of the issue slots
// an H100 has per byte of memory bandwidth; they use the exact identity
// 0.5 * (1 + tanh(u)) = 1 / (1 + exp(-2u)) with the hardware exponential and
// reciprocal instead (a few float32 ulps, at most one ulp of the 16-bit
// result, and accurate in the negative tail where 1 + tanh(u) cancels).

#include <ATen/MemoryOverlap.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/all.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "torch_binding.h"

namespace {

constexpr int kVectorBytes = 16;
constexpr int kBlockThreads = 256;
// Hardware limits of gridDim.x and gridDim.y.
constexpr int64_t kMaxGridX = 2147483647;
constexpr int64_t kMaxGridY = 65535;

template <typename scalar_t, int N> struct alignas(sizeof(scalar_t) * N) Vec {
  scalar_t val[N];
};

template <typename scalar_t>
constexpr bool kIs16Bit = !std::is_same<scalar_t, float>::value;

// ---------------------------------------------------------------------------
// Activation functions (float32 in, float32 out).

struct Silu {
  static constexpr int kRowsPerThread = 2;
  static constexpr int kMinBlocksPerSM = 1;
  template <bool kFast> __device__ __forceinline__ static float apply(float x) {
    // torch.nn.functional.silu: x / (1 + exp(-x)).
    return x / (1.0f + expf(-x));
  }
};

struct GeluErf {
  static constexpr int kRowsPerThread = 1;
  static constexpr int kMinBlocksPerSM = 8;
  template <bool kFast> __device__ __forceinline__ static float apply(float x) {
    // torch.nn.functional.gelu(approximate="none").
    constexpr float kAlpha = 0.70710678118654752440f; // 1 / sqrt(2)
    return x * 0.5f * (1.0f + erff(x * kAlpha));
  }
};

// tanh approximation of GELU with `inner` = sqrt(2/pi) * (x + 0.044715 x^3).
// Fast form: 0.5 * x * (1 + tanh(inner)) == x / (1 + exp(-2 * inner)).
__device__ __forceinline__ float gelu_sigmoid_form(float x, float inner) {
  return __fdividef(x, 1.0f + __expf(-2.0f * inner));
}

struct GeluTanh {
  static constexpr int kRowsPerThread = 1;
  static constexpr int kMinBlocksPerSM = 8;
  template <bool kFast> __device__ __forceinline__ static float apply(float x) {
    // torch.nn.functional.gelu(approximate="tanh").
    constexpr float kBeta = 0.79788456080286535588f; // sqrt(2 / pi)
    constexpr float kKappa = 0.044715f;
    float const x_cube = x * x * x;
    float const inner = kBeta * (x + kKappa * x_cube);
    if constexpr (kFast) {
      return gelu_sigmoid_form(x, inner);
    } else {
      return 0.5f * x * (1.0f + tanhf(inner));
    }
  }
};

struct GeluFast {
  template <bool kFast> __device__ __forceinline__ static float apply(float x) {
    // 0.5 * x * (1 + tanh(x * 0.7978845608 * (1 + 0.044715 * x * x))), the
    // "gelu_fast" of GPT-style models (transformers' FastGELUActivation).
    if constexpr (kFast) {
      float const inner = x * 0.7978845608f * (1.0f + 0.044715f * x * x);
      return gelu_sigmoid_form(x, inner);
    } else {
      // One rounding per operation, in the order eager PyTorch evaluates
      // the Python expression (no fused multiply-adds).
      float const a = __fmul_rn(__fmul_rn(0.044715f, x), x);
      float const b = __fmul_rn(__fmul_rn(x, 0.7978845608f), __fadd_rn(1.0f, a));
      return __fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.0f, tanhf(b)));
    }
  }
};

// ---------------------------------------------------------------------------
// Per-element operations on the storage type.

// act(gate) is rounded to the storage type before the multiplication, as
// eager PyTorch does for `act(gate) * up`.
template <typename Act, typename scalar_t>
__device__ __forceinline__ scalar_t gated_op(scalar_t gate, scalar_t up) {
  float const act = Act::template apply<false>(static_cast<float>(gate));
  float const act_rounded = static_cast<float>(static_cast<scalar_t>(act));
  return static_cast<scalar_t>(act_rounded * static_cast<float>(up));
}

template <typename Act, typename scalar_t>
__device__ __forceinline__ scalar_t unary_op(scalar_t x) {
  return static_cast<scalar_t>(
      Act::template apply<kIs16Bit<scalar_t>>(static_cast<float>(x)));
}

// ---------------------------------------------------------------------------
// Kernels.

// Gated: input [rows, 2 * d], out [rows, d], both contiguous. Block (tx, ty):
// threadIdx.x over column vectors, threadIdx.y (and gridDim.y) over rows;
// each thread takes Act::kRowsPerThread rows, `row_step` apart.
template <typename Act, typename scalar_t, int N>
__global__ void __launch_bounds__(kBlockThreads, Act::kMinBlocksPerSM)
    gated_kernel(scalar_t *__restrict__ out, scalar_t const *__restrict__ input,
                 int64_t rows, int64_t d) {
  using V = Vec<scalar_t, N>;
  int64_t const vecs_per_row = d / N;
  int64_t const col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= vecs_per_row) {
    return;
  }
  int64_t const row_step = static_cast<int64_t>(gridDim.y) * blockDim.y;
  int64_t row = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;

  auto const gate_ptr = [&](int64_t r) {
    return reinterpret_cast<V const *>(input + r * 2 * d) + col;
  };
  auto const out_ptr = [&](int64_t r) {
    return reinterpret_cast<V *>(out + r * d) + col;
  };
  auto const compute = [](V const &g, V const &u) {
    V o;
#pragma unroll
    for (int j = 0; j < N; ++j) {
      o.val[j] = gated_op<Act>(g.val[j], u.val[j]);
    }
    return o;
  };

  constexpr int kRows = Act::kRowsPerThread;
  // kRows rows per iteration: all their loads are issued before any use.
  for (; row + (kRows - 1) * row_step < rows; row += kRows * row_step) {
    V gate[kRows];
    V up[kRows];
#pragma unroll
    for (int k = 0; k < kRows; ++k) {
      V const *g = gate_ptr(row + k * row_step);
      gate[k] = g[0];
      up[k] = g[vecs_per_row];
    }
#pragma unroll
    for (int k = 0; k < kRows; ++k) {
      *out_ptr(row + k * row_step) = compute(gate[k], up[k]);
    }
  }
  for (; row < rows; row += row_step) {
    V const *g = gate_ptr(row);
    *out_ptr(row) = compute(g[0], g[vecs_per_row]);
  }
}

// Elementwise over `numel` contiguous elements; `out` may alias `input`
// (every element is read and written by the same thread).
template <typename Act, typename scalar_t, int N>
__global__ void __launch_bounds__(kBlockThreads)
    unary_kernel(scalar_t *out, scalar_t const *input, int64_t numel) {
  using V = Vec<scalar_t, N>;
  int64_t const num_vecs = numel / N;
  int64_t const stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  auto const *in_vec = reinterpret_cast<V const *>(input);
  auto *out_vec = reinterpret_cast<V *>(out);
  auto const compute = [](V v) {
#pragma unroll
    for (int j = 0; j < N; ++j) {
      v.val[j] = unary_op<Act>(v.val[j]);
    }
    return v;
  };

  for (; i < num_vecs; i += stride) {
    out_vec[i] = compute(in_vec[i]);
  }
  // Scalar tail (fewer than N elements, only in the vector path).
  int64_t const t = num_vecs * N + static_cast<int64_t>(blockIdx.x) * blockDim.x +
                    threadIdx.x;
  if (t < numel) {
    out[t] = unary_op<Act>(input[t]);
  }
}

// ---------------------------------------------------------------------------
// Launch helpers.

bool is_aligned(void const *ptr) {
  return reinterpret_cast<uintptr_t>(ptr) % kVectorBytes == 0;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <typename Act, typename scalar_t, int N>
void launch_gated(scalar_t *out, scalar_t const *input, int64_t rows, int64_t d,
                  cudaStream_t stream) {
  constexpr auto kernel = gated_kernel<Act, scalar_t, N>;
  int64_t const vecs_per_row = d / N;
  // Narrow rows: fewer threads per row, several rows per block.
  int const tx = static_cast<int>(
      std::min<int64_t>(kBlockThreads, ceil_div(vecs_per_row, 32) * 32));
  int const ty = kBlockThreads / tx;
  int64_t const grid_x = ceil_div(vecs_per_row, tx);
  int64_t const grid_y = std::clamp<int64_t>(
      ceil_div(rows, static_cast<int64_t>(ty) * Act::kRowsPerThread), 1,
      kMaxGridY);
  TORCH_CHECK(grid_x <= INT32_MAX, "activation: rows are too long");
  kernel<<<dim3(static_cast<unsigned>(grid_x), static_cast<unsigned>(grid_y)),
           dim3(tx, ty), 0, stream>>>(out, input, rows, d);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename Act, typename scalar_t, int N>
void launch_unary(scalar_t *out, scalar_t const *input, int64_t numel,
                  cudaStream_t stream) {
  constexpr auto kernel = unary_kernel<Act, scalar_t, N>;
  int64_t const work = std::max<int64_t>(numel / N, 1);
  int64_t const blocks =
      std::clamp<int64_t>(ceil_div(work, kBlockThreads), 1, kMaxGridX);
  kernel<<<static_cast<unsigned>(blocks), kBlockThreads, 0, stream>>>(
      out, input, numel);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// float32, float16 and bfloat16 only.
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
  TORCH_CHECK(input.device().is_cuda(), name, ": input must be a CUDA tensor");
  TORCH_CHECK(out.device() == input.device(), name,
              ": input and out must be on the same device, got ",
              input.device(), " and ", out.device());
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

  c10::cuda::CUDAGuard const guard(input.device());
  cudaStream_t const stream = at::cuda::getCurrentCUDAStream();
  dispatch_float_types(input.scalar_type(), name, [&](auto tag) {
    using scalar_t = decltype(tag);
    constexpr int kN = kVectorBytes / sizeof(scalar_t);
    auto *dst = out.data_ptr<scalar_t>();
    auto const *src = input.data_ptr<scalar_t>();
    if (d % kN == 0 && is_aligned(dst) && is_aligned(src)) {
      launch_gated<Act, scalar_t, kN>(dst, src, rows, d, stream);
    } else {
      launch_gated<Act, scalar_t, 1>(dst, src, rows, d, stream);
    }
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
  // In place (out is input) is fine; a partial overlap is not.
  at::assert_no_partial_overlap(out, input);

  c10::cuda::CUDAGuard const guard(input.device());
  cudaStream_t const stream = at::cuda::getCurrentCUDAStream();
  dispatch_float_types(input.scalar_type(), name, [&](auto tag) {
    using scalar_t = decltype(tag);
    constexpr int kN = kVectorBytes / sizeof(scalar_t);
    auto *dst = out.data_ptr<scalar_t>();
    auto const *src = input.data_ptr<scalar_t>();
    if (is_aligned(dst) && is_aligned(src)) {
      launch_unary<Act, scalar_t, kN>(dst, src, numel, stream);
    } else {
      launch_unary<Act, scalar_t, 1>(dst, src, numel, stream);
    }
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
