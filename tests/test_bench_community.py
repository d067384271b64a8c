"""bench/community.py without a GPU: exporting sources from a git mirror (a fixture repository made here),
the compile commands, the build's control flow and its errors."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@pytest.fixture(scope="module")
def community():
    spec = importlib.util.spec_from_file_location("community", REPO / "bench" / "community.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["community"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules["community"]


#: A miniature kernels-community: the folders export reads, plus files it must leave out.
FIXTURE_FILES = {
    "activation/activation/activation_kernels.cu": "// fixture kernel\n",
    "activation/activation/dispatch_utils.h": "// fixture header\n",
    "activation/torch-ext/torch_binding.cpp": "// fixture binding\n",
    "activation/torch-ext/activation/__init__.py": "# a subfolder: not exported\n",
    "activation/build.toml": "[general]\n",
    "liger-kernels/torch-ext/liger_kernels/__init__.py": "",
    "liger-kernels/torch-ext/liger_kernels/rms_norm.py": "# fixture\n",
    "liger-kernels/README.md": "not exported\n",
}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture()
def mirror(tmp_path) -> tuple[Path, str]:
    work = tmp_path / "upstream"
    for name, text in FIXTURE_FILES.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text, encoding="utf-8")
    _git(tmp_path, "init", "-q", str(work))
    _git(work, "add", "-A")
    _git(work, "commit", "-qm", "fixture")
    return work / ".git", _git(work, "rev-parse", "HEAD")


def test_export_copies_only_the_needed_files_and_names_the_commit(community, mirror, tmp_path):
    git_dir, commit = mirror
    dest = tmp_path / "repo" / ".community"
    dest.mkdir(parents=True)
    (dest / "stale.cu").write_text("left from an older export", encoding="utf-8")
    result = community.export(git_dir, dest)
    assert result.commit == commit
    assert set(result.files) == {"activation/activation_kernels.cu", "activation/dispatch_utils.h",
                                 "activation/torch_binding.cpp", "liger_kernels/__init__.py",
                                 "liger_kernels/rms_norm.py"}
    for name in result.files:
        upstream = {"activation/torch_binding.cpp": "activation/torch-ext/torch_binding.cpp",
                    "liger_kernels/__init__.py": "liger-kernels/torch-ext/liger_kernels/__init__.py",
                    "liger_kernels/rms_norm.py": "liger-kernels/torch-ext/liger_kernels/rms_norm.py"}.get(
                        name, "activation/activation/" + name.split("/", 1)[1])
        assert (dest / name).read_text(encoding="utf-8") == FIXTURE_FILES[upstream]
    assert not (dest / "stale.cu").exists()
    manifest = community.read_manifest(dest)
    assert manifest["commit"] == commit and manifest["files"] == sorted(result.files)
    assert sorted(p.name for p in dest.parent.iterdir()) == [".community"]  # no staging folder left


def test_export_errors_are_one_line_and_leave_the_destination_alone(community, mirror, tmp_path, capsys):
    git_dir, _ = mirror
    dest = tmp_path / "dest"
    with pytest.raises(community.CommunityError, match="no such directory"):
        community.export(tmp_path / "missing", dest)
    with pytest.raises(community.CommunityError, match="git rev-parse"):
        community.export(git_dir, dest, revision="no-such-branch")
    assert not dest.exists()
    assert community.main(["export", "--mirror", str(tmp_path / "missing"), "--dest", str(dest)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("community.py: error: --mirror ")


def test_the_export_folder_is_ignored_by_git(community):
    assert community.DEFAULT_SOURCE == REPO / ".community"
    proc = subprocess.run(["git", "check-ignore", "-q", ".community/activation/activation_kernels.cu"], cwd=REPO)
    assert proc.returncode == 0


def _toolchain(community, nvcc="/opt/cuda/bin/nvcc", cxx="/usr/bin/c++"):
    return community.Toolchain(nvcc=nvcc, cxx=cxx, torch_includes=("/torch/include", "/torch/include/api"),
                               torch_lib="/torch/lib", cuda_lib="/opt/cuda/lib64",
                               cxx11_abi=1)


def test_compile_commands_compile_each_source_then_link_them(community, tmp_path):
    source, build_dir = tmp_path / "src", tmp_path / "build"
    commands = community.compile_commands(_toolchain(community), source, build_dir, ["9.0", "10.0"])
    *compiles, link = commands
    assert [c[0] for c in compiles] == ["/opt/cuda/bin/nvcc", "/usr/bin/c++"]
    objects = []
    for command, name in zip(compiles, community.ACTIVATION_CUDA_SOURCES + community.ACTIVATION_CXX_SOURCES):
        assert command[command.index("-c") + 1] == str(source / "activation" / name)
        objects.append(command[command.index("-o") + 1])
        for flag in ("-DCUDA_KERNEL", f"-DTORCH_EXTENSION_NAME={community.EXTENSION_NAME}",
                     f"-I{build_dir / 'include'}", f"-I{source / 'activation'}", "-I/torch/include",
                     "-D_GLIBCXX_USE_CXX11_ABI=1", "-std=c++17"):
            assert flag in command
    nvcc = compiles[0]
    assert "-gencode=arch=compute_90,code=sm_90" in nvcc and "-gencode=arch=compute_100,code=sm_100" in nvcc
    assert nvcc[nvcc.index("-ccbin") + 1] == "/usr/bin/c++"
    assert link[:3] == ["/usr/bin/c++", "-shared", "-o"]
    assert link[3] == str(build_dir / f"{community.EXTENSION_NAME}.so")
    assert link[4:4 + len(objects)] == objects
    assert {"-L/torch/lib", "-L/opt/cuda/lib64", "-ltorch", "-ltorch_cuda", "-lcudart"} <= set(link)


def _exported(community, mirror, tmp_path) -> Path:
    source = tmp_path / "source"
    community.export(mirror[0], source)
    return source


def test_build_runs_the_commands_and_records_the_library(community, mirror, tmp_path):
    source = _exported(community, mirror, tmp_path)
    build_dir = tmp_path / "build"
    info = community.build(source, build_dir, ["9.0"], _toolchain(community, nvcc="true", cxx="true"))
    assert json.loads((build_dir / "BUILD.json").read_text(encoding="utf-8")) == info
    assert info["commit"] == mirror[1] and info["archs"] == ["9.0"]
    assert info["activation_library"] == str(build_dir / f"{community.EXTENSION_NAME}.so")
    header = (build_dir / "include" / "registration.h").read_text(encoding="utf-8")
    for macro in ("STABLE_TORCH_LIBRARY_EXPAND", "STABLE_TORCH_LIBRARY_IMPL_EXPAND", "REGISTER_EXTENSION"):
        assert f"#define {macro}(" in header
    log = (build_dir / "build.log").read_text(encoding="utf-8")
    assert log.count("$ true ") == 3


def test_a_failing_compiler_is_one_error_naming_the_log(community, mirror, tmp_path):
    source = _exported(community, mirror, tmp_path)
    build_dir = tmp_path / "build"
    with pytest.raises(community.CommunityError, match=r"failed \(false exit 1\); see .*build\.log"):
        community.build(source, build_dir, ["9.0"], _toolchain(community, nvcc="false", cxx="true"))
    assert not (build_dir / "BUILD.json").exists()


def test_build_without_an_export_says_to_export_first(community, tmp_path, capsys):
    assert community.main(["build", "--source", str(tmp_path), "--build-dir", str(tmp_path / "b"),
                           "--arch", "9.0"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert "run `python bench/community.py export` first" in line


@pytest.mark.parametrize("arch", ["90", "sm_90", "9.0.1", "x.y"])
def test_a_malformed_arch_is_an_argument_error(community, tmp_path, capsys, arch):
    with pytest.raises(SystemExit) as exit_info:
        community.parse_args(["build", "--build-dir", str(tmp_path), "--arch", arch])
    assert exit_info.value.code == 2
    assert f"--arch {arch!r}: expected a capability like 9.0" in capsys.readouterr().err


def test_community_candidates_write_a_poisoned_output_of_the_op_shape(community):
    torch = pytest.importorskip("torch")
    calls = []
    ops = type("Ops", (), {op: staticmethod(lambda out, x, op=op: calls.append(op) or out.fill_(1.0))
                           for op in community.ACTIVATION_OPS})()
    rms = type("Rms", (), {"apply": staticmethod(lambda x, w, eps, *rest: (calls.append(rest), x * w)[1])})()
    kernels = community.Community(activation=ops, liger_rms_norm=rms, description="fixture")
    make = lambda run, output: (run, output)  # noqa: E731
    x = torch.randn(3, 8)
    for op, width in (("silu_and_mul", 4), ("gelu_tanh", 8)):
        run, output = kernels.candidate(op, (x,), make)
        assert output().shape == (3, width) and bool(output().isnan().all())
        run()
        assert calls[-1] == op and bool((output() == 1.0).all())
    run, output = kernels.candidate("rms_norm", (x, torch.ones(8), 1e-6), make)
    run()
    assert torch.equal(output(), x) and calls[-1] == (0.0, "llama", True, None)  # LigerRMSNorm's own arguments
    assert all(kernels.supports(op) for op in (*community.ACTIVATION_OPS, "rms_norm"))
