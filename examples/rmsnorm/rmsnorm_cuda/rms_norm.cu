// CUDA implementation of rms_norm:
//
//   out[r, :] = weight * round(x[r, :] * rsqrt(mean(x[r, :]^2) + eps))
//
// with the sum of squares accumulated in float32 and, for 16-bit dtypes, the
// normalised value rounded to the dtype before the multiplication by the
// weight, exactly as transformers' LlamaRMSNorm computes
// `weight * hidden_states.to(input_dtype)`.
//
// Main kernel (rows of up to 4096 vectors, i.e. hidden <= 32768 for 16-bit
// dtypes and <= 16384 for float32): one group of `T` threads (a multiple of
// 32) per row and `R` rows per block (T * R <= 256 unless a row needs more
// threads). Each thread loads its up to VPT 16-byte vectors of the row into
// registers, all loads issued before the first use, then the row's sum of
// squares is reduced with warp shuffles and, across the warps of a row,
// through shared memory (one barrier per row, double-buffered). The row is
// then normalised from registers and written back: every element is read
// once and written once. The grid covers all row groups (one block each):
// on an H100 that moved 3-4% more bytes per second than a persistent grid
// (as many blocks as the SMs hold at once) in the same session, since a
// retiring block is replaced at once and the memory pipeline stays full.
// The kernel still loops over row groups, so a capped grid stays correct.
// Rows are loaded with the evict-first cache hint and the weight through the
// read-only path, so the weight stays in L1/L2 while the rows stream by.
//
// Longer rows use a two-pass kernel (one block of 1024 threads per row; the
// second pass re-reads the row, mostly from L2).
//
// The 16-byte path needs the hidden size to be a multiple of the vector
// width (8 for 16-bit dtypes, 4 for float32) and 16-byte aligned pointers;
// otherwise the same kernels run with one element per access.

#include <ATen/MemoryOverlap.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/all.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "torch_binding.h"

namespace {

constexpr int kVectorBytes = 16;
constexpr int kWarp = 32;
constexpr int kMaxVecsPerThread = 8;
// Threads per row of the register kernel: at most 256 (the usual case), or
// 512 for the longest rows, with 8 vectors per thread each. Blocks of 1024
// threads would cap the kernel at 64 registers, fewer than 8 vectors per
// thread need without spilling.
constexpr int kTargetBlockThreads = 256;
constexpr int kMaxThreadsPerRow = 512;
constexpr int kTwoPassThreads = 1024;

// N elements of scalar_t as loaded and stored by one access, and their
// conversion to and from float32.
//
// Generic case (one element per access): c10 conversions.
template <typename scalar_t, int N> struct Packet {
  static_assert(N == 1, "16-byte packets have their own specialisations");
  using Bits = std::conditional_t<sizeof(scalar_t) == 4, unsigned int,
                                  unsigned short>;
  Bits bits;

  __device__ __forceinline__ void to_float(float (&f)[N]) const {
    scalar_t v;
    memcpy(&v, &bits, sizeof(v));
    f[0] = static_cast<float>(v);
  }
  __device__ __forceinline__ void from_float(float const (&f)[N]) {
    scalar_t const v = static_cast<scalar_t>(f[0]);
    memcpy(&bits, &v, sizeof(v));
  }
  __device__ __forceinline__ void hide_from_optimizer() {}
};

// 16-byte packets are four 32-bit words, converted a word at a time, so a
// packet occupies four registers however many elements it holds.
struct Words {
  unsigned int w[4];

  // An empty asm that claims to modify the words: the compiler cannot reuse
  // float values it derived from them earlier, so it keeps only the packed
  // words alive (4 registers per packet instead of one per element).
  __device__ __forceinline__ void hide_from_optimizer() {
    asm volatile("" : "+r"(w[0]), "+r"(w[1]), "+r"(w[2]), "+r"(w[3]));
  }
};

template <> struct Packet<float, 4> : Words {
  __device__ __forceinline__ void to_float(float (&f)[4]) const {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      f[i] = __uint_as_float(w[i]);
    }
  }
  __device__ __forceinline__ void from_float(float const (&f)[4]) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      w[i] = __float_as_uint(f[i]);
    }
  }
};

template <> struct Packet<c10::BFloat16, 8> : Words {
  __device__ __forceinline__ void to_float(float (&f)[8]) const {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      f[2 * i] = __uint_as_float(w[i] << 16);
      f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
  }
  __device__ __forceinline__ void from_float(float const (&f)[8]) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      __nv_bfloat162 const h = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
      memcpy(&w[i], &h, sizeof(h));
    }
  }
};

template <> struct Packet<c10::Half, 8> : Words {
  __device__ __forceinline__ void to_float(float (&f)[8]) const {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      __half2 h;
      memcpy(&h, &w[i], sizeof(h));
      float2 const v = __half22float2(h);
      f[2 * i] = v.x;
      f[2 * i + 1] = v.y;
    }
  }
  __device__ __forceinline__ void from_float(float const (&f)[8]) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      __half2 const h = __floats2half2_rn(f[2 * i], f[2 * i + 1]);
      memcpy(&w[i], &h, sizeof(h));
    }
  }
};

// Loads of one packet: `kStream` = evict-first (data read once), otherwise
// through the read-only data cache (data shared by all rows: the weight).
template <bool kStream, typename P>
__device__ __forceinline__ P load(P const *p) {
  P v;
  if constexpr (sizeof(P) == 16) {
    uint4 const raw = kStream ? __ldcs(reinterpret_cast<uint4 const *>(p))
                              : __ldg(reinterpret_cast<uint4 const *>(p));
    memcpy(&v, &raw, sizeof(v));
  } else if constexpr (sizeof(P) == 4) {
    unsigned int const raw =
        kStream ? __ldcs(reinterpret_cast<unsigned int const *>(p))
                : __ldg(reinterpret_cast<unsigned int const *>(p));
    memcpy(&v, &raw, sizeof(v));
  } else {
    static_assert(sizeof(P) == 2, "unexpected packet size");
    unsigned short const raw =
        kStream ? __ldcs(reinterpret_cast<unsigned short const *>(p))
                : __ldg(reinterpret_cast<unsigned short const *>(p));
    memcpy(&v, &raw, sizeof(v));
  }
  return v;
}

template <typename P> __device__ __forceinline__ void store(P *p, P const &v) {
  if constexpr (sizeof(P) == 16) {
    uint4 raw;
    memcpy(&raw, &v, sizeof(v));
    *reinterpret_cast<uint4 *>(p) = raw;
  } else {
    *p = v;
  }
}

template <typename scalar_t, int N>
__device__ __forceinline__ float sum_of_squares(Packet<scalar_t, N> const &x) {
  float f[N];
  x.to_float(f);
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < N; ++j) {
    s = fmaf(f[j], f[j], s);
  }
  return s;
}

// weight * round(x * inv_rms), rounding to the storage type in between
// (a no-op for float32).
template <typename scalar_t, int N>
__device__ __forceinline__ Packet<scalar_t, N>
normalize(Packet<scalar_t, N> const &x, Packet<scalar_t, N> const &w,
          float inv_rms) {
  float f[N];
  float g[N];
  x.to_float(f);
#pragma unroll
  for (int j = 0; j < N; ++j) {
    f[j] *= inv_rms;
  }
  Packet<scalar_t, N> o;
  if constexpr (!std::is_same_v<scalar_t, float>) {
    o.from_float(f);
    o.to_float(f);
  }
  w.to_float(g);
#pragma unroll
  for (int j = 0; j < N; ++j) {
    f[j] *= g[j];
  }
  o.from_float(f);
  return o;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset >>= 1) {
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  }
  return v;
}

// Block: (T, R) threads; thread (tx, ty) works on row `base + ty` of each
// row group. `out` may be `input` (each thread reads its elements before it
// writes them).
template <typename scalar_t, int N, int VPT, int kMaxBlock>
__global__ void __launch_bounds__(kMaxBlock)
    rms_norm_kernel(scalar_t *out, scalar_t const *input,
                    scalar_t const *__restrict__ weight, int64_t rows,
                    int hidden, float eps) {
  using P = Packet<scalar_t, N>;
  __shared__ float partial[2][kMaxBlock / kWarp];

  int const threads_per_row = blockDim.x;
  int const warps_per_row = threads_per_row / kWarp;
  int const tx = threadIdx.x;
  int const ty = threadIdx.y;
  int const lane = tx % kWarp;
  int const warp = tx / kWarp;
  int const vecs_per_row = hidden / N;
  float const inv_hidden = 1.0f / static_cast<float>(hidden);
  auto const *w_vec = reinterpret_cast<P const *>(weight);

  int parity = 0;
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.y; base < rows;
       base += static_cast<int64_t>(gridDim.x) * blockDim.y, parity ^= 1) {
    int64_t const row = base + ty;
    bool const valid = row < rows;
    auto const *x_vec = reinterpret_cast<P const *>(input + row * hidden);

    // All loads of the row first, then the sum of squares.
    P x[VPT];
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
      int const c = tx + k * threads_per_row;
      if (valid && c < vecs_per_row) {
        x[k] = load<true>(x_vec + c);
      }
    }
    float sum_sq = 0.0f;
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
      int const c = tx + k * threads_per_row;
      if (valid && c < vecs_per_row) {
        sum_sq += sum_of_squares(x[k]);
      }
    }
    sum_sq = warp_sum(sum_sq);
    if (warps_per_row > 1) { // uniform over the block
      if (lane == 0) {
        partial[parity][ty * warps_per_row + warp] = sum_sq;
      }
      __syncthreads();
      sum_sq = 0.0f;
      for (int i = 0; i < warps_per_row; ++i) {
        sum_sq += partial[parity][ty * warps_per_row + i];
      }
    }
    float const inv_rms = rsqrtf(sum_sq * inv_hidden + eps);

    // The weight packets of this thread's columns are L1 hits after the first
    // rows (the rows themselves are loaded evict-first). Loading them one at
    // a time here, rather than all before the first use, keeps the register
    // count (and so the number of rows in flight per SM) at that of the row
    // data alone; other warps hide the latency.
    auto *o_vec = reinterpret_cast<P *>(out + row * hidden);
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
      int const c = tx + k * threads_per_row;
      if (valid && c < vecs_per_row) {
        x[k].hide_from_optimizer();
        store(o_vec + c, normalize(x[k], load<false>(w_vec + c), inv_rms));
      }
    }
  }
}

// Rows too long for registers: one block per row, two passes over the row
// (the second mostly hits L2).
template <typename scalar_t, int N>
__global__ void __launch_bounds__(kTwoPassThreads)
    rms_norm_two_pass_kernel(scalar_t *out, scalar_t const *input,
                             scalar_t const *__restrict__ weight, int64_t rows,
                             int64_t hidden, float eps) {
  using P = Packet<scalar_t, N>;
  __shared__ float partial[kTwoPassThreads / kWarp];
  __shared__ float inv_rms_shared;
  int64_t const vecs_per_row = hidden / N;
  auto const *w_vec = reinterpret_cast<P const *>(weight);
  int const lane = threadIdx.x % kWarp;
  int const warp = threadIdx.x / kWarp;
  int const warps = blockDim.x / kWarp;

  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    auto const *x_vec = reinterpret_cast<P const *>(input + row * hidden);
    float sum_sq = 0.0f;
    for (int64_t c = threadIdx.x; c < vecs_per_row; c += blockDim.x) {
      sum_sq += sum_of_squares(load<false>(x_vec + c));
    }
    sum_sq = warp_sum(sum_sq);
    if (lane == 0) {
      partial[warp] = sum_sq;
    }
    __syncthreads();
    if (warp == 0) {
      float v = lane < warps ? partial[lane] : 0.0f;
      v = warp_sum(v);
      if (lane == 0) {
        inv_rms_shared = rsqrtf(v / static_cast<float>(hidden) + eps);
      }
    }
    __syncthreads();
    float const inv_rms = inv_rms_shared;

    auto *o_vec = reinterpret_cast<P *>(out + row * hidden);
    for (int64_t c = threadIdx.x; c < vecs_per_row; c += blockDim.x) {
      store(o_vec + c, normalize(load<true>(x_vec + c), load<false>(w_vec + c), inv_rms));
    }
    // `partial` and `inv_rms_shared` are rewritten for the next row.
    __syncthreads();
  }
}

// Blocks of `kKernel` with `block_threads` threads that one SM holds at once,
// per device (computed once per kernel, block size and device).
template <auto kKernel> int blocks_per_sm(int block_threads, int device) {
  constexpr int kMaxDevices = 64;
  constexpr int kSlots = kTwoPassThreads / kWarp + 1;
  static std::atomic<int> cache[kMaxDevices][kSlots];
  int const slot = block_threads / kWarp;
  bool const cacheable = device >= 0 && device < kMaxDevices &&
                         block_threads % kWarp == 0 && slot < kSlots;
  if (cacheable) {
    int const cached = cache[device][slot].load(std::memory_order_relaxed);
    if (cached > 0) {
      return cached;
    }
  }
  int blocks = 0;
  C10_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &blocks, kKernel, block_threads, 0));
  blocks = std::max(blocks, 1);
  if (cacheable) {
    cache[device][slot].store(blocks, std::memory_order_relaxed);
  }
  return blocks;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <typename scalar_t, int N, int VPT, int kMaxBlock>
void launch_rows_in_registers(scalar_t *out, scalar_t const *input,
                              scalar_t const *weight, int64_t rows, int hidden,
                              float eps, int64_t threads_per_row,
                              cudaStream_t stream) {
  constexpr auto kernel = rms_norm_kernel<scalar_t, N, VPT, kMaxBlock>;
  int const tpr = static_cast<int>(threads_per_row);
  int const rows_per_block = std::max(1, kTargetBlockThreads / tpr);
  constexpr int64_t kMaxGridX = 2147483647;
  int64_t const blocks =
      std::clamp<int64_t>(ceil_div(rows, rows_per_block), 1, kMaxGridX);
  kernel<<<static_cast<unsigned>(blocks), dim3(tpr, rows_per_block),
           0, stream>>>(out, input, weight, rows, hidden, eps);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename scalar_t, int N>
void launch(scalar_t *out, scalar_t const *input, scalar_t const *weight,
            int64_t rows, int64_t hidden, float eps, int device,
            cudaStream_t stream) {
  int64_t const vecs_per_row = hidden / N;
  // The fewest vectors per thread that keep a row within 256 threads, or
  // within 512 threads with 8 vectors each.
  auto const threads_for = [&](int vpt) -> int64_t {
    return ceil_div(ceil_div(vecs_per_row, vpt), kWarp) * kWarp;
  };
  int const h = static_cast<int>(std::min<int64_t>(hidden, INT32_MAX));
  constexpr int kT = kTargetBlockThreads;
  if (threads_for(1) <= kT) {
    launch_rows_in_registers<scalar_t, N, 1, kT>(out, input, weight, rows, h,
                                                 eps, threads_for(1), stream);
  } else if (threads_for(2) <= kT) {
    launch_rows_in_registers<scalar_t, N, 2, kT>(out, input, weight, rows, h,
                                                 eps, threads_for(2), stream);
  } else if (threads_for(4) <= kT) {
    launch_rows_in_registers<scalar_t, N, 4, kT>(out, input, weight, rows, h,
                                                 eps, threads_for(4), stream);
  } else if (threads_for(kMaxVecsPerThread) <= kT) {
    launch_rows_in_registers<scalar_t, N, kMaxVecsPerThread, kT>(
        out, input, weight, rows, h, eps, threads_for(kMaxVecsPerThread),
        stream);
  } else if (threads_for(kMaxVecsPerThread) <= kMaxThreadsPerRow) {
    launch_rows_in_registers<scalar_t, N, kMaxVecsPerThread, kMaxThreadsPerRow>(
        out, input, weight, rows, h, eps, threads_for(kMaxVecsPerThread),
        stream);
  } else {
    constexpr auto kernel = rms_norm_two_pass_kernel<scalar_t, N>;
    int const sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
    int64_t const resident = static_cast<int64_t>(sms) *
                             blocks_per_sm<kernel>(kTwoPassThreads, device);
    int64_t const blocks = std::clamp<int64_t>(rows, 1, resident);
    kernel<<<static_cast<unsigned>(blocks), kTwoPassThreads, 0, stream>>>(
        out, input, weight, rows, hidden, eps);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
}

bool is_aligned(void const *ptr) {
  return reinterpret_cast<uintptr_t>(ptr) % kVectorBytes == 0;
}

} // namespace

void rms_norm(torch::Tensor &out, torch::Tensor const &input,
              torch::Tensor const &weight, double epsilon) {
  TORCH_CHECK(input.device().is_cuda(), "rms_norm: input must be a CUDA tensor");
  TORCH_CHECK(out.device() == input.device() && weight.device() == input.device(),
              "rms_norm: input, weight and out must be on the same device, got ",
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

  c10::cuda::CUDAGuard const guard(input.device());
  cudaStream_t const stream = at::cuda::getCurrentCUDAStream();
  int const device = input.get_device();

  auto const run = [&](auto tag) {
    using scalar_t = decltype(tag);
    constexpr int kN = kVectorBytes / sizeof(scalar_t);
    auto *dst = out.data_ptr<scalar_t>();
    auto const *src = input.data_ptr<scalar_t>();
    auto const *w = weight.data_ptr<scalar_t>();
    if (hidden % kN == 0 && is_aligned(dst) && is_aligned(src) && is_aligned(w)) {
      launch<scalar_t, kN>(dst, src, w, rows, hidden, eps, device, stream);
    } else {
      launch<scalar_t, 1>(dst, src, w, rows, hidden, eps, device, stream);
    }
  };
  switch (input.scalar_type()) {
  case at::ScalarType::Float:
    run(float{});
    break;
  case at::ScalarType::Half:
    run(c10::Half{});
    break;
  case at::ScalarType::BFloat16:
    run(c10::BFloat16{});
    break;
  default:
    TORCH_CHECK(false, "rms_norm: unsupported dtype ", input.scalar_type(),
                " (supported: float32, float16, bfloat16)");
  }
}
