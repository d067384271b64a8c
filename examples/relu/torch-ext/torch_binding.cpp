#include <torch/library.h>

#include "registration.h"
#include "torch_binding.h"

// TORCH_EXTENSION_NAME is set by the build to a unique op namespace
// (e.g. `_relu_cpu_1a2b3c4`), so several builds of this kernel can be
// loaded into one process. Exactly one of CPU_KERNEL / CUDA_KERNEL is
// defined, depending on the backend of the build variant.
TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops) {
  ops.def("relu(Tensor! out, Tensor input) -> ()");
#if defined(CPU_KERNEL)
  ops.impl("relu", torch::kCPU, &relu);
#elif defined(CUDA_KERNEL)
  ops.impl("relu", torch::kCUDA, &relu);
#endif
}

REGISTER_EXTENSION(TORCH_EXTENSION_NAME)
