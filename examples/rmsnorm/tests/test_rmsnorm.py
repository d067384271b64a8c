import functools

import pytest
import torch

# The test harness puts the build variant directory (build/<variant>/) on
# sys.path, so the kernel is importable under its plain name.
import rmsnorm


@functools.lru_cache(maxsize=None)
def _kernel_supports(device: str) -> bool:
    # A build variant only has an implementation for its own backend (a CPU
    # build on a CUDA machine cannot run on CUDA tensors), so probe once.
    try:
        rmsnorm.rms_norm(torch.ones(1, 1, device=device), torch.ones(1, device=device))
    except NotImplementedError:
        return False
    return True


@pytest.fixture(scope="session", params=["cpu", "cuda"])
def device(request):
    name = request.param
    if name == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    if not _kernel_supports(name):
        pytest.skip(f"this build of the kernel has no {name} implementation")
    return name


@pytest.mark.kernels_ci
def test_kernel_runs_on_some_device():
    # Guards against the probe above skipping every test of a broken build.
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    assert any(_kernel_supports(d) for d in devices)


DTYPES = [torch.float32, torch.float16, torch.bfloat16]

# The normalised value may differ from the reference by one rounding step
# of the dtype (the reductions sum in another order).
TOLERANCES = {
    torch.float32: dict(rtol=1e-5, atol=1e-5),
    torch.float16: dict(rtol=2e-3, atol=1e-3),
    torch.bfloat16: dict(rtol=1.6e-2, atol=1e-2),
}


def reference(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' LlamaRMSNorm.forward."""
    input_dtype = x.dtype
    h = x.to(torch.float32)
    variance = h.pow(2).mean(-1, keepdim=True)
    h = h * torch.rsqrt(variance + eps)
    return weight * h.to(input_dtype)


def _inputs(rows, hidden, dtype, device, seed=0):
    g = torch.Generator().manual_seed(seed + rows * 131 + hidden)
    x = (torch.randn(rows, hidden, generator=g) * 2 + 0.5).to(dtype=dtype, device=device)
    w = (1 + 0.5 * torch.randn(hidden, generator=g)).to(dtype=dtype, device=device)
    return x, w


# Hidden sizes: below/around one 16-byte vector, not a multiple of the vector
# width (scalar path), every vectors-per-thread variant of the CUDA kernel,
# and above 4096 vectors per row (the two-pass kernel).
HIDDEN = [1, 7, 8, 31, 64, 100, 1000, 1024, 2048, 4096, 5120, 8193, 14336, 20000]


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_rms_norm_matches_reference(hidden, dtype, device):
    rows = 3 if hidden > 4096 else 37
    x, w = _inputs(rows, hidden, dtype, device)
    out = torch.full_like(x, float("nan"))

    result = rmsnorm.rms_norm(x, w, 1e-6, out=out)

    assert result is out
    torch.testing.assert_close(out, reference(x, w, 1e-6), **TOLERANCES[dtype])


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
def test_rms_norm_long_rows(dtype, device):
    # 16-bit rows of more than 32768 elements (float32: 16384) take the
    # two-pass kernel even when vectorised.
    x, w = _inputs(2, 70000, dtype, device)
    torch.testing.assert_close(rmsnorm.rms_norm(x, w, 1e-5), reference(x, w, 1e-5), **TOLERANCES[dtype])


@pytest.mark.kernels_ci
@pytest.mark.parametrize("rows", [1, 2, 5, 1000, 4099])
def test_rms_norm_many_rows(rows, device):
    # Row counts that leave the last block of the persistent grid partly empty.
    x, w = _inputs(rows, 256, torch.bfloat16, device)
    torch.testing.assert_close(rmsnorm.rms_norm(x, w), reference(x, w, 1e-6), **TOLERANCES[torch.bfloat16])


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
def test_rms_norm_3d_and_eps(dtype, device):
    x, w = _inputs(6, 384, dtype, device)
    x = x.view(2, 3, 384) * 1e-3
    for eps in (1e-6, 1e-2):
        torch.testing.assert_close(rmsnorm.rms_norm(x, w, eps), reference(x, w, eps), **TOLERANCES[dtype])


@pytest.mark.kernels_ci
def test_rms_norm_zero_rows_and_empty(device):
    x, w = _inputs(4, 64, torch.float32, device)
    torch.testing.assert_close(rmsnorm.rms_norm(torch.zeros_like(x), w), torch.zeros_like(x))
    empty = torch.empty(0, 64, device=device)
    assert rmsnorm.rms_norm(empty, w).shape == (0, 64)


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
def test_rms_norm_unaligned_views(dtype, device):
    # Contiguous views whose data pointers are not 16-byte aligned: the
    # kernel must take the scalar path.
    rows, hidden = 9, 512
    x, w = _inputs(rows, hidden, dtype, device)
    xs = torch.empty(rows * hidden + 1, dtype=dtype, device=device)[1:].view(rows, hidden)
    xs.copy_(x)
    ws = torch.empty(hidden + 1, dtype=dtype, device=device)[1:]
    ws.copy_(w)
    out = torch.empty(rows * hidden + 1, dtype=dtype, device=device)[1:].view(rows, hidden)
    rmsnorm.rms_norm(xs, ws, out=out)
    torch.testing.assert_close(out, reference(x, w, 1e-6), **TOLERANCES[dtype])


@pytest.mark.kernels_ci
def test_rms_norm_in_place(device):
    x, w = _inputs(33, 1024, torch.bfloat16, device)
    expected = reference(x, w, 1e-6)
    rmsnorm.rms_norm(x, w, out=x)
    torch.testing.assert_close(x, expected, **TOLERANCES[torch.bfloat16])


class _LlamaRMSNorm(torch.nn.Module):
    """The module the kernel layer replaces (transformers' LlamaRMSNorm)."""

    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        return reference(hidden_states, self.weight, self.variance_epsilon)


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_uses_the_state_of_the_module(dtype, device):
    model = _LlamaRMSNorm(640, eps=1e-5).to(device=device, dtype=dtype)
    with torch.no_grad():
        model.weight.copy_(torch.linspace(0.5, 1.5, 640))
    x, _ = _inputs(12, 640, dtype, device)
    expected = model(x)
    # What kernelize does: the kernel layer's forward bound to the model.
    forward = rmsnorm.layers.RMSNorm.forward.__get__(model)
    with torch.no_grad():
        torch.testing.assert_close(forward(x), expected, **TOLERANCES[dtype])
        # A non-contiguous input is copied by the layer.
        xt = x.t().contiguous().t()
        torch.testing.assert_close(forward(xt), expected, **TOLERANCES[dtype])


@pytest.mark.kernels_ci
def test_layer_is_pure():
    cls = rmsnorm.layers.RMSNorm
    assert cls.__init__ is torch.nn.Module.__init__
    own = {k for k in vars(cls) if not k.startswith("__")}
    assert own == {"forward", "has_backward", "can_torch_compile"}
    assert cls.__annotations__["weight"] is torch.Tensor
    assert cls.__annotations__["variance_epsilon"] is float


@pytest.mark.kernels_ci
def test_torch_compile(device):
    # The eager backend still traces the op with fake tensors, which needs
    # the fake implementation registered by the kernel.
    compiled = torch.compile(rmsnorm.rms_norm, backend="eager", fullgraph=True)
    x, w = _inputs(16, 96, torch.float32, device)
    torch.testing.assert_close(compiled(x, w, 1e-6), reference(x, w, 1e-6), **TOLERANCES[torch.float32])


@pytest.mark.kernels_ci
def test_rms_norm_rejects_bad_inputs(device):
    x, w = _inputs(4, 8, torch.float32, device)
    with pytest.raises(RuntimeError, match="shape"):
        rmsnorm.rms_norm(x, w, out=torch.empty(4, 9, device=device))
    with pytest.raises(RuntimeError, match="weight must have shape"):
        rmsnorm.rms_norm(x, w[:7])
    with pytest.raises(RuntimeError, match="dtype"):
        rmsnorm.rms_norm(x, w.half())
    with pytest.raises(RuntimeError, match="dtype"):
        rmsnorm.rms_norm(x, w, out=torch.empty(4, 8, dtype=torch.float16, device=device))
    with pytest.raises(RuntimeError, match="contiguous"):
        rmsnorm.rms_norm(x.t(), w[:4])
    with pytest.raises(RuntimeError, match="unsupported dtype"):
        rmsnorm.rms_norm(x.double(), w.double())
    with pytest.raises(RuntimeError, match="single memory location"):
        flat = x.view(-1)
        rmsnorm.rms_norm(flat[:24].view(3, 8), w, out=flat[1:25].view(3, 8))
