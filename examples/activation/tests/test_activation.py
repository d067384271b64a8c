import functools
import math

import pytest
import torch
import torch.nn.functional as F

# The test harness puts the build variant directory (build/<variant>/) on
# sys.path, so the kernel is importable under its plain name.
import activation


@functools.lru_cache(maxsize=None)
def _kernel_supports(device: str) -> bool:
    # A build variant only has an implementation for its own backend (a CPU
    # build on a CUDA machine cannot run on CUDA tensors), so probe once.
    try:
        activation.gelu_tanh(torch.empty(1, device=device), torch.zeros(1, device=device))
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


# PyTorch references, written as eager models compute them.
def _gelu_fast_formula(x):
    return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


def _split(x):
    d = x.shape[-1] // 2
    return x[..., :d], x[..., d:]


GATED = {
    "silu_and_mul": lambda x: F.silu(_split(x)[0]) * _split(x)[1],
    "gelu_and_mul": lambda x: F.gelu(_split(x)[0]) * _split(x)[1],
    "gelu_tanh_and_mul": lambda x: F.gelu(_split(x)[0], approximate="tanh") * _split(x)[1],
}

# The elementwise references are evaluated in float32 and rounded once: the
# kernels compute in float32 (eager PyTorch would round every intermediate
# of the gelu_fast formula to a 16-bit dtype).
UNARY = {
    "gelu_fast": lambda x: _gelu_fast_formula(x.float()).to(x.dtype),
    "gelu_tanh": lambda x: F.gelu(x.float(), approximate="tanh").to(x.dtype),
}

LAYERS = {
    "silu_and_mul": "SiluAndMul",
    "gelu_and_mul": "GeluAndMul",
    "gelu_tanh_and_mul": "GeluTanhAndMul",
    "gelu_fast": "FastGELU",
    "gelu_tanh": "GeluTanh",
}

# About one unit in the last place of each dtype (16-bit results may differ
# from the reference by one rounding step), and an absolute floor for
# results near zero.
TOLERANCES = {
    torch.float32: dict(rtol=2e-6, atol=1e-5),
    torch.float16: dict(rtol=2e-3, atol=2e-5),
    torch.bfloat16: dict(rtol=1.6e-2, atol=1e-4),
}

# Shapes of the kernel's output: rows that are not a multiple of the vector
# width (8 elements for 16-bit dtypes, 4 for float32) take the scalar path.
OUT_SHAPES = [
    (1, 1),
    (3, 7),
    (5, 8),
    (2, 9),
    (17, 33),
    (4, 0),
    (0, 16),
    (2, 3, 1024),
    (64, 4096),
    (7, 1000),
    (3, 11008),
]


def _input(shape, dtype, device, scale=3.0):
    torch.manual_seed(sum(shape) + 7 * len(shape))
    return (torch.randn(shape, dtype=torch.float32) * scale).to(dtype=dtype, device=device)


def _poison(shape, dtype, device):
    return torch.full(shape, float("nan"), dtype=dtype, device=device)


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", OUT_SHAPES)
@pytest.mark.parametrize("name", sorted(GATED))
def test_gated_matches_torch(name, shape, dtype, device):
    x = _input(shape[:-1] + (2 * shape[-1],), dtype, device)
    out = _poison(shape, dtype, device)

    result = getattr(activation, name)(out, x)

    assert result is out
    torch.testing.assert_close(out, GATED[name](x), **TOLERANCES[dtype])


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", OUT_SHAPES + [(1_000_003,)])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch(name, shape, dtype, device):
    x = _input(shape, dtype, device)
    out = _poison(shape, dtype, device)

    result = getattr(activation, name)(out, x)

    assert result is out
    torch.testing.assert_close(out, UNARY[name](x), **TOLERANCES[dtype])


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_against_float64(name, dtype, device):
    # Checks the 16-bit fast path of the CUDA kernels against the exact
    # function, including the negative tail where 1 + tanh(u) cancels.
    x = torch.linspace(-12, 12, 20001, dtype=torch.float64).to(dtype)
    exact = F.gelu(x.double(), approximate="tanh").to(dtype)
    out = getattr(activation, name)(torch.empty_like(x, device=device), x.to(device))
    torch.testing.assert_close(out.cpu(), exact, **TOLERANCES[dtype])


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(GATED) + sorted(UNARY))
def test_special_values(name, dtype, device):
    # Compared with the float64 reference: eager float32 F.gelu on the CPU
    # returns NaN for +inf, where the function (and the CUDA kernels) give +inf.
    values = [float("-inf"), -1e4, -30.0, -2.5, -1e-3, -0.0, 0.0, 1e-3, 1.5, 30.0, 1e4,
              float("inf"), float("nan")]
    v = torch.tensor(values, dtype=dtype, device=device)
    ref = GATED[name] if name in GATED else UNARY[name]
    if name in GATED:
        # gate = values, up = 1 (and up = values with gate = 1).
        inputs = [torch.cat([v, torch.ones_like(v)]), torch.cat([torch.ones_like(v), v])]
    else:
        inputs = [v]
    for inp in inputs:
        out = getattr(activation, name)(torch.empty_like(v), inp)
        expected = ref(inp.double()).to(dtype)
        torch.testing.assert_close(out, expected, equal_nan=True, **TOLERANCES[dtype])


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(GATED) + sorted(UNARY))
def test_unaligned_views(name, dtype, device):
    # Dropping the first element gives contiguous tensors whose data pointers
    # are not 16-byte aligned: the kernels must take the scalar path.
    rows, d = 5, 64
    in_cols = 2 * d if name in GATED else d
    x = _input((rows * in_cols + 1,), dtype, device)[1:].view(rows, in_cols)
    out = _poison((rows * d + 1,), dtype, device)[1:].view(rows, d)
    getattr(activation, name)(out, x)
    ref = GATED[name](x) if name in GATED else UNARY[name](x)
    torch.testing.assert_close(out, ref, **TOLERANCES[dtype])


@pytest.mark.kernels_ci
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_in_place(name, device):
    x = _input((33, 65), torch.float16, device)
    expected = UNARY[name](x)
    getattr(activation, name)(x, x)
    torch.testing.assert_close(x, expected, **TOLERANCES[torch.float16])


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layers(name, dtype, device):
    layer = getattr(activation.layers, LAYERS[name])()
    x = _input((2, 9, 96), dtype, device)
    ref = GATED[name](x) if name in GATED else UNARY[name](x)
    torch.testing.assert_close(layer(x), ref, **TOLERANCES[dtype])
    # A non-contiguous input is copied by the layer.
    xt = _input((96, 18), dtype, device).t()
    ref = GATED[name](xt) if name in GATED else UNARY[name](xt)
    torch.testing.assert_close(layer(xt), ref, **TOLERANCES[dtype])


@pytest.mark.kernels_ci
def test_layers_are_pure():
    for name in LAYERS.values():
        cls = getattr(activation.layers, name)
        assert cls.__init__ is torch.nn.Module.__init__
        own = {k for k in vars(cls) if not k.startswith("__")}
        assert own == {"forward", "has_backward", "can_torch_compile"}, (name, own)


@pytest.mark.kernels_ci
def test_torch_compile(device):
    # The eager backend still traces the ops with fake tensors, which needs
    # the fake implementations registered by the kernel.
    def fn(x):
        out = torch.empty(x.shape[:-1] + (x.shape[-1] // 2,), dtype=x.dtype, device=x.device)
        activation.silu_and_mul(out, x)
        return activation.gelu_tanh(torch.empty_like(out), out)

    compiled = torch.compile(fn, backend="eager", fullgraph=True)
    x = _input((16, 64), torch.float32, device)
    expected = F.gelu(GATED["silu_and_mul"](x), approximate="tanh")
    torch.testing.assert_close(compiled(x), expected, **TOLERANCES[torch.float32])

    layer = torch.compile(activation.layers.GeluAndMul(), backend="eager", fullgraph=True)
    torch.testing.assert_close(layer(x), GATED["gelu_and_mul"](x), **TOLERANCES[torch.float32])


@pytest.mark.kernels_ci
def test_rejects_bad_inputs(device):
    x = _input((4, 8), torch.float32, device)
    with pytest.raises(RuntimeError, match="even"):
        activation.silu_and_mul(torch.empty(4, 3, device=device), x[:, :7].contiguous())
    with pytest.raises(RuntimeError, match="shape"):
        activation.silu_and_mul(torch.empty(4, 8, device=device), x)
    with pytest.raises(RuntimeError, match="dtype"):
        activation.silu_and_mul(torch.empty(4, 4, dtype=torch.float16, device=device), x)
    with pytest.raises(RuntimeError, match="contiguous"):
        activation.silu_and_mul(torch.empty(8, 2, device=device), x.t())
    with pytest.raises(RuntimeError, match="contiguous"):
        activation.gelu_fast(torch.empty(8, 4, device=device).t(), x)
    with pytest.raises(RuntimeError, match="unsupported dtype"):
        xd = x.double()
        activation.gelu_tanh(torch.empty_like(xd), xd)
    # Outputs that overlap the input (other than exactly, for elementwise ops).
    flat = x.view(-1)
    with pytest.raises(RuntimeError, match="single memory location"):
        activation.gelu_tanh(flat[1:17], flat[:16])
    with pytest.raises(RuntimeError, match="single memory location"):
        activation.silu_and_mul(flat[:16].view(4, 4), x)
