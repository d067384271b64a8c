#include <torch/library.h>

#include "registration.h"
#include "torch_binding.h"

// TORCH_EXTENSION_NAME is set by the build to a unique op namespace (e.g.
// `_activation_cuda_1a2b3c4`). Exactly one of CPU_KERNEL / CUDA_KERNEL is
// defined, depending on the backend of the build variant.
#if defined(CPU_KERNEL)
#define ACTIVATION_DEVICE torch::kCPU
#elif defined(CUDA_KERNEL)
#define ACTIVATION_DEVICE torch::kCUDA
#endif

TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops) {
  // SwiGLU: silu(x[..., :d]) * x[..., d:].
  ops.def("silu_and_mul(Tensor! out, Tensor input) -> ()");
  // GeGLU with the exact (erf) GELU.
  ops.def("gelu_and_mul(Tensor! out, Tensor input) -> ()");
  // GeGLU with the tanh approximation of GELU.
  ops.def("gelu_tanh_and_mul(Tensor! out, Tensor input) -> ()");
  // 0.5 * x * (1 + tanh(0.7978845608 * x * (1 + 0.044715 * x * x))).
  ops.def("gelu_fast(Tensor! out, Tensor input) -> ()");
  // torch.nn.functional.gelu(x, approximate="tanh").
  ops.def("gelu_tanh(Tensor! out, Tensor input) -> ()");
#if defined(ACTIVATION_DEVICE)
  ops.impl("silu_and_mul", ACTIVATION_DEVICE, &silu_and_mul);
  ops.impl("gelu_and_mul", ACTIVATION_DEVICE, &gelu_and_mul);
  ops.impl("gelu_tanh_and_mul", ACTIVATION_DEVICE, &gelu_tanh_and_mul);
  ops.impl("gelu_fast", ACTIVATION_DEVICE, &gelu_fast);
  ops.impl("gelu_tanh", ACTIVATION_DEVICE, &gelu_tanh);
#endif
}

REGISTER_EXTENSION(TORCH_EXTENSION_NAME)
