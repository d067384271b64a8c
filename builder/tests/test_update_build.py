"""kernel-builder update-build: older build.toml formats -> the current one."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kernel_builder.cli import main
from kernel_builder.config import load_config
from kernel_builder.config.formats import detect_format, upgrade
from kernel_builder._toml import tomllib

V1 = """\
# Activation kernels, v1 format.
[general]
name = "activation"  # module name

[torch]
src = ["torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h"]

# One CUDA source, also hipified for ROCm.
[kernel.activation]
cuda-capabilities = ["8.0", "9.0"]
rocm-archs = ["gfx942"]
language = "cuda-hipify"
depends = ["torch"]
src = ["activation/act.cu"]

[kernel.activation_metal]
language = "metal"
depends = ["torch"]
src = ["activation/act.metal"]
"""

V1_UNIVERSAL = """\
[general]
name = "triton_kernel"

[torch]
universal = true
"""

V2 = """\
[general]
name = "quant"
cuda-minver = "12.4"
python-depends = ["einops"]

[general.hub]
repo-id = "org/quant"  # where uploads go

[torch]
src = ["torch-ext/torch_binding.cpp"]

[kernel.q]
backend = "cuda"
depends = ["torch", "cutlass_3_6"]
src = ["q/q.cu"]

[kernel.qc]
backend = "cpu"
depends = ["torch"]
src = ["q/q.cpp"]
"""

V2_UNIVERSAL = """\
[general]
name = "tri"
universal = true

[torch]
src = []
"""


def _project(root: Path, build_toml: str, name: str, files: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "build.toml").write_text(build_toml)
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("// source\n")
    package = root / "torch-ext" / name
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    return root


@pytest.mark.parametrize(
    ("text", "expected"),
    [(V1, 1), (V1_UNIVERSAL, 1), (V2, 2), (V2_UNIVERSAL, 2), ('[general]\nname = "x"\nbackends = ["cpu"]\n', 3)],
)
def test_detect_format(text: str, expected: int) -> None:
    assert detect_format(tomllib.loads(text)) == expected


def test_v1_round_trips_into_a_valid_current_config(tmp_path: Path) -> None:
    root = _project(tmp_path / "k", V1, "activation",
                    ["torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h", "activation/act.cu",
                     "activation/act.metal"])
    result = CliRunner().invoke(main, ["update-build", str(root)])
    assert result.exit_code == 0, result.output
    assert "converted from format v1 to edition 5" in result.output
    text = (root / "build.toml").read_text()
    assert "# One CUDA source, also hipified for ROCm." in text and "# module name" in text
    config = load_config(root)
    assert config.general.backends == ("cuda", "metal", "rocm")
    assert config.kernels["activation"].backend == "cuda"
    assert config.kernels["activation"].cuda_capabilities == ("8.0", "9.0")
    assert config.kernels["activation_rocm"].backend == "rocm"
    assert config.kernels["activation_rocm"].rocm_archs == ("gfx942",)
    assert config.kernels["activation_rocm"].src == ("activation/act.cu",)
    assert config.kernels["activation_metal"].backend == "metal"
    # A second run has nothing to do.
    again = CliRunner().invoke(main, ["update-build", str(root)])
    assert again.exit_code == 0 and "nothing to do" in again.output


def test_v2_round_trips(tmp_path: Path) -> None:
    root = _project(tmp_path / "k", V2, "quant", ["torch-ext/torch_binding.cpp", "q/q.cu", "q/q.cpp"])
    result = CliRunner().invoke(main, ["update-build", str(root)])
    assert result.exit_code == 0, result.output
    config = load_config(root)
    assert config.general.backends == ("cpu", "cuda")
    assert str(config.general.cuda.minver) == "12.4"
    assert config.general.python_depends == ("einops",)
    assert config.general.hub.repo_id == "org/quant"
    assert "# where uploads go" in (root / "build.toml").read_text()


@pytest.mark.parametrize("text", [V1_UNIVERSAL, V2_UNIVERSAL])
def test_universal_kernels_become_noarch(tmp_path: Path, text: str) -> None:
    name = tomllib.loads(text)["general"]["name"]
    root = _project(tmp_path / "k", text, name, [])
    result = CliRunner().invoke(main, ["update-build", str(root)])
    assert result.exit_code == 0, result.output
    config = load_config(root)
    assert config.is_noarch
    assert set(config.general.backends) == {"cpu", "cuda", "metal", "neuron", "rocm", "xpu"}


def test_check_config_names_the_old_format(tmp_path: Path) -> None:
    root = _project(tmp_path / "k", V2, "quant", ["torch-ext/torch_binding.cpp", "q/q.cu", "q/q.cpp"])
    result = CliRunner().invoke(main, ["check-config", str(root)])
    assert result.exit_code == 1
    assert "older v2 format" in result.output and "kernel-builder update-build" in result.output
    v1_root = _project(tmp_path / "k1", V1, "activation", [])
    result = CliRunner().invoke(main, ["check-config", str(v1_root)])
    assert result.exit_code == 1 and "older v1 format" in result.output


def test_conversion_that_would_be_invalid_leaves_the_file_alone(tmp_path: Path) -> None:
    # The converted file would name a source that does not exist: nothing is written.
    root = _project(tmp_path / "k", V2, "quant", ["torch-ext/torch_binding.cpp", "q/q.cu"])
    before = (root / "build.toml").read_text()
    result = CliRunner().invoke(main, ["update-build", str(root)])
    assert result.exit_code == 1
    assert "kernel.qc.src" in result.output and "does not exist" in result.output
    assert (root / "build.toml").read_text() == before


def test_hipify_name_collision_is_reported(tmp_path: Path) -> None:
    text = V1 + '\n[kernel.activation_rocm]\nlanguage = "cuda"\ndepends = ["torch"]\nsrc = ["x.cu"]\n'
    root = _project(tmp_path / "k", text, "activation", [])
    result = CliRunner().invoke(main, ["update-build", str(root)])
    assert result.exit_code == 1
    assert "activation_rocm" in result.output and "Traceback" not in result.output


def test_missing_build_toml(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["update-build", str(tmp_path)])
    assert result.exit_code == 1
    assert "build.toml: cannot read" in result.output


def test_upgrade_keeps_current_files_untouched() -> None:
    text = '[general]\nname = "x"  # keep\nedition = 5\nbackends = ["cpu"]\n'
    assert upgrade(text) == (text, 5)
