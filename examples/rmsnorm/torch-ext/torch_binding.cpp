#include <torch/library.h>

#include "registration.h"
#include "torch_binding.h"

// TORCH_EXTENSION_NAME is set by the build to a unique op namespace (e.g.
// `_rmsnorm_cuda_1a2b3c4`). Exactly one of CPU_KERNEL / CUDA_KERNEL is
// defined, depending on the backend of the build variant.
TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops) {
  ops.def("rms_norm(Tensor! out, Tensor input, Tensor weight, float epsilon) -> ()");
#if defined(CPU_KERNEL)
  ops.impl("rms_norm", torch::kCPU, &rms_norm);
#elif defined(CUDA_KERNEL)
  ops.impl("rms_norm", torch::kCUDA, &rms_norm);
#endif
}

REGISTER_EXTENSION(TORCH_EXTENSION_NAME)
