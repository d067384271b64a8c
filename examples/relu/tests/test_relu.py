import functools

import pytest
import torch

# The test harness puts the build variant directory (build/<variant>/) on
# sys.path, so the kernel is importable under its plain name.
import relu


@functools.lru_cache(maxsize=None)
def _kernel_supports(device: str) -> bool:
    # A build variant only has an implementation for its own backend (a CPU
    # build on a CUDA machine cannot run on CUDA tensors), so probe once.
    try:
        relu.relu(torch.zeros(1, device=device))
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

# Includes an empty tensor, sizes below/around one 16-byte vector and sizes
# that are not a multiple of the vector width, so that the tail handling of
# the CUDA kernel is exercised.
SHAPES = [
    (0,),
    (1,),
    (3,),
    (7,),
    (8,),
    (9,),
    (17, 33),
    (4, 0, 5),
    (2, 3, 1025),
    (128, 4096),
    (1_000_003,),
]


def _input(shape, dtype, device):
    torch.manual_seed(0)
    return torch.randn(shape, dtype=dtype, device=device)


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_relu_matches_torch(shape, dtype, device):
    x = _input(shape, dtype, device)
    y = relu.relu(x)

    assert y.shape == x.shape
    assert y.dtype == x.dtype
    assert y.device == x.device
    # ReLU only selects between the input value and zero, so the result is
    # exact in every dtype.
    torch.testing.assert_close(y, torch.relu(x), rtol=0.0, atol=0.0)


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_special_values(dtype, device):
    # -1e-7 is subnormal in float16.
    values = [float("-inf"), -2.5, -1e-7, -0.0, 0.0, 1e-7, 1.5, float("inf")]
    x = torch.tensor(values + [float("nan")], dtype=dtype, device=device)
    torch.testing.assert_close(
        relu.relu(x), torch.relu(x), rtol=0.0, atol=0.0, equal_nan=True
    )


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_out(dtype, device):
    x = _input((37, 129), dtype, device)
    out = torch.full_like(x, 42.0)

    result = relu.relu(x, out=out)

    assert result is out
    torch.testing.assert_close(out, torch.relu(x), rtol=0.0, atol=0.0)


@pytest.mark.kernels_ci
def test_relu_in_place(device):
    x = _input((1001,), torch.float32, device)
    expected = torch.relu(x)

    relu.relu(x, out=x)

    torch.testing.assert_close(x, expected, rtol=0.0, atol=0.0)


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_unaligned_views(dtype, device):
    # Slicing off the first element gives contiguous tensors whose data
    # pointers are not aligned to a vector boundary.
    x = _input((4099,), dtype, device)[1:]
    out = torch.empty(4099, dtype=dtype, device=device)[1:]

    relu.relu(x, out=out)

    torch.testing.assert_close(out, torch.relu(x), rtol=0.0, atol=0.0)


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_layer(dtype, device):
    layer = relu.layers.ReLU()
    x = _input((8, 16, 33), dtype, device)

    torch.testing.assert_close(layer(x), torch.relu(x), rtol=0.0, atol=0.0)


@pytest.mark.kernels_ci
def test_relu_torch_compile(device):
    # The eager backend still traces the op with fake tensors, which needs
    # the fake implementation registered by the kernel.
    compiled = torch.compile(relu.relu, backend="eager", fullgraph=True)
    x = _input((64, 65), torch.float32, device)

    torch.testing.assert_close(compiled(x), torch.relu(x), rtol=0.0, atol=0.0)


@pytest.mark.kernels_ci
def test_relu_rejects_bad_inputs(device):
    x = _input((4, 8), torch.float32, device)

    with pytest.raises(RuntimeError):
        relu.relu(x, out=torch.empty(4, 9, device=device))

    with pytest.raises(RuntimeError):
        relu.relu(x, out=torch.empty(4, 8, dtype=torch.float16, device=device))

    with pytest.raises(RuntimeError):
        relu.relu(x.t(), out=torch.empty(8, 4, device=device))
