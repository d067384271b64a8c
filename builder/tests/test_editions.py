"""build.toml edition 5 and the legacy editions (issue 16): one small project per feature.

Each error is one line naming the file and the dotted key; legacy formats are
read with a warning that names ``kernel-builder update-build``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tomlkit
from kernel_builder.check.registrations import HEADER, find_violations
from kernel_builder.cli import main
from kernel_builder.config import ConfigError, load_config
from kernel_builder.config.capabilities import (
    effective_cuda_capabilities,
    effective_rocm_archs,
    loose_cuda_intersection,
)
from kernel_builder.config.formats import migrate
from kernel_builder.generate.cmake import cuda_arch_tables, render_cmakelists, rocm_archs
from kernel_builder.generate.pyproject import generated_files

FIXTURES = Path(__file__).parent / "fixtures" / "editions"


def _v5(**general: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "general": {"name": "ed-kernel", "version": 1, "edition": 5, "license": "Apache-2.0",
                    "backends": ["cpu"], **general},
        "torch": {"src": ["torch-ext/torch_binding.cpp"]},
        "kernel": {"ed_cpu": {"backend": "cpu", "depends": ["torch"], "src": ["ed_cpu/ed.cpp"]}},
    }
    return data


def _write(root: Path, data: dict[str, Any], package_dir: str = "torch-ext") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel in ("torch-ext/torch_binding.cpp", "ed_cpu/ed.cpp", "tvm-ffi-ext/binding.cpp"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("// source\n")
    name = data["general"]["name"].replace("-", "_")
    (root / package_dir / name).mkdir(parents=True, exist_ok=True)
    (root / package_dir / name / "__init__.py").write_text("")
    (root / "build.toml").write_text(tomlkit.dumps(data))
    return root


def _error(root: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(root)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(str(root / "build.toml"))
    return info.value


def _check_config(root: Path):
    return CliRunner().invoke(main, ["check-config", str(root)])


# --------------------------------------------------------------------------
# Editions.


def test_edition_5_is_current_and_quiet(tmp_path: Path) -> None:
    root = _write(tmp_path / "k", _v5())
    config = load_config(root)
    assert config.edition == 5 and config.warnings == ()
    result = _check_config(root)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


@pytest.mark.parametrize("edition, hint", [
    (6, "unsupported build edition 6; upgrade kernel-builder"),
    (4, "unsupported build edition 4; upgrade kernel-builder"),
    ("5", "expected an integer such as 5"),
    (True, "expected an integer such as 5"),
])
def test_bad_editions(tmp_path: Path, edition: Any, hint: str) -> None:
    error = _error(_write(tmp_path / "k", _v5(edition=edition)))
    assert error.key == "general.edition"
    assert hint in error.message


def test_v4_is_upgraded_in_memory_with_a_warning(tmp_path: Path) -> None:
    data = _v5()
    del data["general"]["edition"]
    root = _write(tmp_path / "k", data)
    config = load_config(root)
    assert config.edition == 4
    result = _check_config(root)
    assert result.exit_code == 0, result.output
    assert "legacy v4" in result.stderr and "kernel-builder update-build" in result.stderr
    assert result.stderr.count("\n") == 1


def test_v3_builds_with_a_deprecation_warning(tmp_path: Path) -> None:
    data = _v5()
    for key in ("edition", "license"):
        del data["general"][key]
    root = _write(tmp_path / "k", data)
    config = load_config(root)
    assert config.edition == 3 and config.general.license == "Apache-2.0"
    result = _check_config(root)
    assert result.exit_code == 0, result.output
    assert "deprecated v3" in result.stderr and "kernel-builder update-build" in result.stderr


def test_v3_without_framework_is_python_only(tmp_path: Path) -> None:
    data = {"general": {"name": "ed-kernel", "backends": ["cpu"]}}
    config = load_config(_write(tmp_path / "k", data))
    assert config.edition == 3 and config.is_noarch


@pytest.mark.parametrize("mutate, key, hint", [
    (lambda d: d["general"].update(color="red"), "general.color", "unknown key"),
    (lambda d: d["general"].update(tpu={"kernel-depends": []}), "general.tpu.kernel-depends", "unknown key"),
    (lambda d: d["torch"].update(sources=["a.cpp"]), "torch.sources", "unknown key"),
    (lambda d: d.update(extra={}), "extra", "unknown key"),
    (lambda d: d["general"].update(name="My_Kernel"), "general.name", "'My_Kernel'"),
    (lambda d: d["general"].pop("license"), "general.license", "missing required key"),
    (lambda d: d["general"].pop("version"), "general.version", "missing required key"),
])
def test_v5_keys(tmp_path: Path, mutate: Any, key: str, hint: str) -> None:
    data = _v5()
    mutate(data)
    error = _error(_write(tmp_path / "k", data))
    assert error.key == key
    assert hint in error.message


def test_v4_refuses_edition_5_only_keys(tmp_path: Path) -> None:
    data = _v5(**{"kernel-depends": [{"repo-id": "org/dep", "version": 1}]})
    del data["general"]["edition"]
    error = _error(_write(tmp_path / "k", data))
    assert error.key == "general.kernel-depends" and "unknown key" in error.message


def test_v5_general_keys(tmp_path: Path) -> None:
    data = _v5(upstream="https://github.com/org/up", source="https://github.com/org/src",
               backends=["cpu", "cuda", "neuron", "tpu", "xpu"],
               **{"kernel-depends": [{"repo-id": "org/dep", "version": 2}, {"repo-id": "org/other", "revision": "abc"}],
                  "python-depends": ["einops", "helion", "tvm-ffi"]})
    data["general"]["hub"] = {"repo-id": "org/ed-kernel", "branch": "dev"}
    data["general"]["cuda"] = {"minver": "12.8", "kernel-depends": [{"repo-id": "org/cu", "version": 1}],
                               "python-depends": ["nvidia-cutlass-dsl"]}
    data["general"]["neuron"] = {"python-depends": ["nki"]}
    data["general"]["tpu"] = {"python-depends": []}
    data["general"]["xpu"] = {"python-depends": ["onednn"]}
    general = load_config(_write(tmp_path / "k", data)).general
    assert general.source == "https://github.com/org/src"
    assert [d.version or d.revision for d in general.kernel_depends] == [2, "abc"]
    assert [d.repo_id for d in general.kernel_depends_for("cuda")] == ["org/dep", "org/other", "org/cu"]
    assert general.python_depends_for("neuron") == ("einops", "helion", "tvm-ffi", "nki")
    assert general.hub.branch == "dev"


@pytest.mark.parametrize("entry, hint", [
    ({"repo-id": "org/dep", "version": 1, "revision": "abc"}, "exactly one of 'version'"),
    ({"repo-id": "org/dep"}, "exactly one of 'version'"),
    ({"version": 1}, "missing required key"),
    ({"repo-id": "not a repo", "version": 1}, "Hub repository id"),
])
def test_bad_kernel_depends(tmp_path: Path, entry: dict[str, Any], hint: str) -> None:
    error = _error(_write(tmp_path / "k", _v5(**{"kernel-depends": [entry]})))
    assert error.key.startswith("general.kernel-depends[0]")
    assert hint in error.message


# --------------------------------------------------------------------------
# Allowed sets, from lib/*.json.


@pytest.mark.parametrize("where, deps, ok", [
    ("general", ["einops", "helion", "tvm-ffi"], True),
    ("general", ["nki"], False),
    ("neuron", ["nki"], True),
    ("cuda", ["nvidia-cutlass-dsl"], True),
    ("cuda", ["onednn"], False),
    ("xpu", ["onednn"], True),
    ("xpu", ["nki"], False),
])
def test_python_depends_per_backend(tmp_path: Path, where: str, deps: list[str], ok: bool) -> None:
    data = _v5(backends=["cpu", "cuda", "neuron", "xpu"])
    if where == "general":
        data["general"]["python-depends"] = deps
    else:
        data["general"][where] = {"python-depends": deps}
    root = _write(tmp_path / "k", data)
    if ok:
        load_config(root)
        return
    error = _error(root)
    assert error.key == ("general.python-depends" if where == "general" else f"general.{where}.python-depends")
    assert "is not allowed" in error.message


def test_every_backend_is_allowed_but_only_compiled_ones_take_kernels(tmp_path: Path) -> None:
    data = _v5(backends=["cann", "cpu", "cuda", "metal", "neuron", "rocm", "tpu", "xpu"])
    load_config(_write(tmp_path / "ok", data))
    data["kernel"]["n"] = {"backend": "neuron", "depends": ["torch"], "src": ["ed_cpu/ed.cpp"]}
    error = _error(_write(tmp_path / "bad", data))
    assert error.key == "kernel.n.backend" and "Python-only" in error.message


@pytest.mark.parametrize("dep", ["cutlass_4_4", "cutlass_4_5"])
def test_new_cuda_dependencies(tmp_path: Path, dep: str) -> None:
    data = _v5(backends=["cpu", "cuda"])
    data["kernel"]["c"] = {"backend": "cuda", "depends": ["torch", dep], "src": ["ed_cpu/ed.cpp"]}
    assert load_config(_write(tmp_path / "k", data)).kernels["c"].depends == ("torch", dep)


# --------------------------------------------------------------------------
# Frameworks.


def test_exactly_one_framework(tmp_path: Path) -> None:
    data = _v5()
    data["torch-noarch"] = {}
    error = _error(_write(tmp_path / "two", data))
    assert "exactly one framework section" in error.message
    data = _v5()
    del data["torch"]
    del data["kernel"]
    error = _error(_write(tmp_path / "none", data))
    assert "[torch-noarch]" in error.message and "[tvm-ffi]" in error.message


def test_torch_noarch_takes_no_kernels(tmp_path: Path) -> None:
    data = _v5()
    del data["torch"]
    data["torch-noarch"] = {}
    error = _error(_write(tmp_path / "k", data))
    assert error.key == "torch-noarch" and "[kernel.*]" in error.message


def test_torch_noarch_fixture() -> None:
    config = load_config(FIXTURES / "noarch-data")
    assert config.framework == "torch-noarch" and config.is_noarch
    assert config.noarch is not None and config.noarch.cuda_capabilities == ("9.0",)
    assert config.pyext == ("py", "json")
    assert config.compiled_backends() == ()


def test_tvm_ffi_section(tmp_path: Path) -> None:
    data = _v5()
    del data["torch"]
    data["tvm-ffi"] = {"src": ["tvm-ffi-ext/binding.cpp"], "cxx-flags": ["-DTVM_CANARY"], "pyext": ["py", "txt"]}
    config = load_config(_write(tmp_path / "k", data, package_dir="tvm-ffi-ext"))
    assert config.framework == "tvm-ffi" and not config.is_noarch
    assert config.tvm_ffi is not None and config.tvm_ffi.cxx_flags == ("-DTVM_CANARY",)
    assert config.python_package_dir == config.kernel_dir / "tvm-ffi-ext" / "ed_kernel"
    del data["tvm-ffi"]["src"]
    error = _error(_write(tmp_path / "nosrc", data, package_dir="tvm-ffi-ext"))
    assert error.key == "tvm-ffi.src"


def test_torch_cxx_flags_reach_only_the_binding(tmp_path: Path) -> None:
    data = _v5()
    data["torch"]["cxx-flags"] = ["-DBINDING_CANARY"]
    data["kernel"]["ed_cpu"]["cxx-flags"] = ["-DKERNEL_CANARY"]
    config = load_config(_write(tmp_path / "k", data))
    text = render_cmakelists(config, tmp_path / "k", "abc")
    binding = [line for line in text.splitlines() if "BINDING_CANARY" in line]
    assert binding == ['target_compile_options(${OPS_NAME} PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:-DBINDING_CANARY>")']
    assert "KERNEL_CANARY" in text and "KERNEL_CANARY" not in binding[0]


# --------------------------------------------------------------------------
# Torch stable ABI.


def test_stable_abi_string_applies_to_every_backend(tmp_path: Path) -> None:
    data = _v5(backends=["cpu", "cuda"])
    data["torch"]["stable-abi"] = "2.11"
    torch = load_config(_write(tmp_path / "k", data)).torch
    assert torch is not None
    assert {b: str(torch.stable_abi_for(b)) for b in ("cpu", "cuda")} == {"cpu": "2.11", "cuda": "2.11"}


def test_stable_abi_table_per_backend(tmp_path: Path) -> None:
    data = _v5(backends=["cpu", "cuda", "xpu"])
    data["torch"]["stable-abi"] = {"cpu": "2.11", "cuda": "2.12", "rocm": "2.9"}  # rocm: not listed, ignored
    config = load_config(_write(tmp_path / "k", data))
    assert config.torch is not None
    assert {b: str(v) for b, v in config.torch.stable_abi_backends.items()} == {"cpu": "2.11", "cuda": "2.12"}
    assert config.torch.stable_abi_for("xpu") is None  # built with the full ABI
    text = render_cmakelists(config, tmp_path / "k", "abc")
    assert 'set(KB_STABLE_ABI_TARGET 0x020b000000000000)' in text  # (2 << 56) | (11 << 48)
    assert 'set(KB_STABLE_ABI_TARGET 0x020c000000000000)' in text
    assert "TORCH_STABLE_ONLY" not in text
    assert "Torch_VERSION VERSION_LESS KB_STABLE_ABI_VERSION" in text


@pytest.mark.parametrize("value, key, hint", [
    ({"vulkan": "2.11"}, "torch.stable-abi.vulkan", "unknown backend"),
    ({"cpu": 2.11}, "torch.stable-abi.cpu", "version string"),
    (["2.11"], "torch.stable-abi", "table of backend = version"),
    ("latest", "torch.stable-abi", "version string"),
])
def test_bad_stable_abi(tmp_path: Path, value: Any, key: str, hint: str) -> None:
    data = _v5()
    data["torch"]["stable-abi"] = value
    error = _error(_write(tmp_path / "k", data))
    assert error.key == key and hint in error.message


def test_registration_header_includes_no_torch_header(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path / "k", _v5()))
    header = next(f.content for f in generated_files(config, tmp_path / "k", "abc")
                  if f.path == "torch-ext/registration.h")
    assert "#include <torch/" not in header
    for macro in ("TORCH_LIBRARY_EXPAND", "TORCH_LIBRARY_IMPL_EXPAND", "STABLE_TORCH_LIBRARY_EXPAND",
                  "STABLE_TORCH_LIBRARY_IMPL_EXPAND", "REGISTER_EXTENSION"):
        assert f"#define {macro}(" in header


def test_objects_are_compiled_without_gnu_unique(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path / "k", _v5()))
    text = render_cmakelists(config, tmp_path / "k", "abc")
    assert 'check_cxx_compiler_flag("-fno-gnu-unique" KB_HAVE_NO_GNU_UNIQUE)' in text
    assert "target_compile_options(${OPS_NAME} PRIVATE ${KB_NO_GNU_UNIQUE})" in text
    assert "target_compile_options(${target} PRIVATE ${KB_NO_GNU_UNIQUE})" in text  # every kernel object


# --------------------------------------------------------------------------
# Capabilities are intersected.


def test_archs_subset_fixture_effective_sets() -> None:
    config = load_config(FIXTURES / "archs-subset")
    cuda = config.kernels["relu"]
    assert cuda_arch_tables(cuda) == {
        "12.6": ["7.5", "8.0", "9.0"], "12.8": ["7.5", "8.0", "9.0"], "12.9": ["7.5", "8.0", "9.0"],
        "13.0": ["7.5", "8.0", "9.0"], "13.2": ["7.5", "8.0", "9.0"],
    }  # 5.0 is dropped: no toolkit builds it
    assert rocm_archs(config.kernels["relu_rocm"]) == ("gfx90a", "gfx942", "gfx1100")  # gfx940 dropped


@pytest.mark.parametrize("requested, targets, expected", [
    (["8.0"], ["8.0", "8.6", "8.9", "9.0"], ("8.0",)),          # 8.0 code serves 8.6 and 8.9
    (["7.5", "8.0", "8.6", "9.0", "9.0a"], ["8.0", "8.9", "9.0"], ("8.0", "8.6", "9.0a")),
    (["8.0+PTX"], ["9.0"], ("8.0+PTX",)),                        # PTX crosses majors
    (["11.8", "12.0"], ["11.0", "12.0", "12.1"], ("12.0",)),     # 11.8 is above 11.0
    (["99999.0", "sm_90"], ["9.0"], ()),
])
def test_loose_cuda_intersection(requested: list[str], targets: list[str], expected: tuple[str, ...]) -> None:
    assert loose_cuda_intersection(requested, targets) == expected


def test_defaults_when_nothing_is_requested() -> None:
    assert effective_cuda_capabilities(None, "13.0") == (
        "7.5", "8.0", "8.6", "8.7", "8.9", "9.0", "10.0", "11.0", "12.0", "12.1")
    assert effective_cuda_capabilities(None, "12.8")[-3:] == ("10.0", "10.1", "12.0")
    assert effective_rocm_archs(None) == ("gfx906", "gfx908", "gfx90a", "gfx942", "gfx950", "gfx1030", "gfx1100",
                                          "gfx1101", "gfx1200", "gfx1201")


@pytest.mark.parametrize("key, value, hint", [
    ("cuda-capabilities", ["99999.0"], "unsupported CUDA capability '99999.0'"),
    ("rocm-archs", ["gfx99999"], "unsupported ROCm architecture 'gfx99999'"),
])
def test_empty_intersection_is_an_error(tmp_path: Path, key: str, value: list[str], hint: str) -> None:
    data = _v5(backends=["cpu", "cuda", "rocm"])
    backend = "cuda" if key == "cuda-capabilities" else "rocm"
    data["kernel"]["gpu"] = {"backend": backend, "depends": ["torch"], "src": ["ed_cpu/ed.cpp"], key: value}
    error = _error(_write(tmp_path / "k", data))
    assert error.key == f"kernel.gpu.{key}"
    assert "kernel 'gpu'" in error.message and hint in error.message and "supported:" in error.message


# --------------------------------------------------------------------------
# Op registrations.


def test_registration_violations_name_file_line_kind_and_name() -> None:
    source = (FIXTURES / "bad-registration" / "torch-ext" / "bad_registration" / "__init__.py").read_text()
    found = [str(v) for v in find_violations(source, "pkg/__init__.py")]
    assert found == ["pkg/__init__.py:7 function double", "pkg/__init__.py:19 function layer_op"]


def test_bad_registration_refuses_the_build(tmp_path: Path) -> None:
    root = tmp_path / "bad-registration"
    shutil.copytree(FIXTURES / "bad-registration", root)
    result = CliRunner().invoke(main, ["build", "--local", "--unique-id", "abc", str(root)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {HEADER}"
    assert lines[1:] == ["torch-ext/bad_registration/__init__.py:7 function double",
                         "torch-ext/bad_registration/__init__.py:19 function layer_op"]
    assert not (root / "build").exists()


# --------------------------------------------------------------------------
# update-build writes edition 5.


V3 = """\
# A v3 kernel.
[general]
name = "old_kernel"  # keep me
backends = ["cpu"]
"""


def test_update_build_migrates_v3_to_edition_5(tmp_path: Path) -> None:
    migration = migrate(V3)
    assert migration.found == 3
    assert "# keep me" in migration.text and "# A v3 kernel." in migration.text
    assert 'name = "old-kernel"' in migration.text
    assert "edition = 5" in migration.text and 'license = "Apache-2.0"' in migration.text
    assert "[torch-noarch]" in migration.text
    assert any("license" in n for n in migration.notes) and any("old-kernel" in n for n in migration.notes)
    root = tmp_path / "old"
    (root / "torch-ext" / "old_kernel").mkdir(parents=True)
    (root / "torch-ext" / "old_kernel" / "__init__.py").write_text("")
    (root / "build.toml").write_text(V3)
    result = CliRunner().invoke(main, ["update-build", str(root)])
    assert result.exit_code == 0, result.output
    assert "converted from format v3 to edition 5" in result.stdout
    config = load_config(root)
    assert config.edition == 5 and config.is_noarch and config.general.module_name == "old_kernel"


def test_update_build_adds_the_edition_to_v4(tmp_path: Path) -> None:
    data = _v5()
    del data["general"]["edition"]
    text = tomlkit.dumps(data)
    migration = migrate(text)
    assert migration.found == 4 and migration.notes == ()
    assert migration.text.replace("edition = 5\n", "") == text


# --------------------------------------------------------------------------
# A [torch-noarch] kernel builds (nothing to compile) and loads on this machine.


def test_torch_noarch_builds_every_backend_and_loads(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    root = tmp_path / "noarch-data"
    shutil.copytree(FIXTURES / "noarch-data", root)
    result = CliRunner().invoke(main, ["build", "--local", "--unique-id", "abc", str(root)])
    assert result.exit_code == 0, result.output
    built = sorted(p.name for p in (root / "build").iterdir() if p.is_dir())
    assert built == ["torch-cpu", "torch-cuda"]
    cpu = root / "build" / "torch-cpu"
    assert (cpu / "config.json").is_file()  # pyext data files are shipped
    assert not (cpu / "noarch_data").exists()  # no re-export package
    assert json.loads((cpu / "metadata.json").read_text())["id"] == "_noarch_data_cpu_abc"
    code = (
        "import torch, kernels\n"
        f"k = kernels.get_local_kernel({str(root)!r})\n"
        "print(k.scale(torch.arange(3.0)).tolist())\n"
        "print(hasattr(torch.ops._noarch_data_cpu_abc, 'scale'))\n"
        "print(k.triple(2))\n"  # noarch_data/noarch_data.py is not hidden
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["[0.0, 3.0, 6.0]", "True", "6"]


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None, reason="needs a C++ compiler")
def test_stable_abi_cpu_kernel_builds_and_loads(tmp_path: Path) -> None:
    """The stable-square fixture: canary #errors prove where cxx-flags go; the variant is torch-stable-abi211."""
    import subprocess
    import sys

    import torch
    from packaging.version import Version

    if Version(torch.__version__).release[:2] < (2, 11):
        pytest.skip("the fixture targets the Torch 2.11 stable ABI")
    root = tmp_path / "stable-square"
    shutil.copytree(FIXTURES / "stable-square", root)
    result = CliRunner().invoke(main, ["build", "--local", "--unique-id", "abc", str(root)])
    assert result.exit_code == 0, result.output
    variants = [p.name for p in (root / "build").iterdir() if p.is_dir()]
    assert len(variants) == 1 and variants[0].startswith("torch-stable-abi211-cpu-")
    library = next((root / "build" / variants[0]).glob("*.so"))
    symbols = subprocess.run(["nm", "-D", str(library)], capture_output=True, text=True).stdout
    assert " u " not in symbols  # no GNU-unique symbols
    code = (
        "import torch, kernels\n"
        f"k = kernels.get_local_kernel({str(root)!r})\n"
        "print(k.square(torch.tensor([1.0, -2.0, 3.0])).tolist())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1.0, 4.0, 9.0]"


def test_list_variants_names_stable_abi_backends_once_per_compute(tmp_path: Path) -> None:
    data = _v5(backends=["cpu", "cuda"])
    data["torch"]["stable-abi"] = {"cpu": "2.11"}
    root = _write(tmp_path / "k", data)
    result = CliRunner().invoke(main, ["list-variants", str(root)])
    assert result.exit_code == 0, result.output
    names = result.stdout.split()
    cpu = [n for n in names if "-cpu-" in n]
    assert cpu and all(n.startswith("torch-stable-abi211-cpu-") for n in cpu)
    assert len(cpu) == len(set(cpu))
    assert any(n.startswith("torch2") and "-cu1" in n for n in names)  # cuda keeps the full ABI
