"""``kernels info``, ``describe-api``, ``cache ls`` and ``verify-signature`` on local builds and caches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kernels.cli import main
from kernels.cli.describe_api import variant_symbols
from kernels.cli.info import print_kernel_info
from kernels.variants import current_variant


def _variant(root: Path, name: str, metadata: dict, init: str = "def relu(x):\n    return x\n") -> Path:
    variant = root / "build" / name
    variant.mkdir(parents=True)
    (variant / "metadata.json").write_text(json.dumps(metadata))
    (variant / "__init__.py").write_text(init)
    return variant


METADATA = {"id": "_act_cpu", "name": "act", "version": 3, "license": "MIT", "upstream": "https://example.com/act",
            "python-depends": ["einops"], "backend": {"type": "cpu"}, "kernels-minver": "0.19.0"}


def test_info_of_a_local_build_lists_sorted_backends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _variant(tmp_path, current_variant("cpu"), METADATA)
    _variant(tmp_path, "torch211-cxx11-cu126-x86_64-linux", {**METADATA, "backend": {"type": "cuda"}})
    _variant(tmp_path, "torch-universal", {**METADATA, "license": "other"})
    (tmp_path / "build" / "not-a-variant").mkdir()
    print_kernel_info(str(tmp_path), json_output=True)
    info = json.loads(capsys.readouterr().out)
    assert info == {"path": str(tmp_path), "variant": current_variant("cpu"), "name": "act", "version": 3,
                    "kernels_minver": "0.19.0", "license": "MIT", "upstream": "https://example.com/act",
                    "source": None, "python_depends": ["einops"], "backends": ["cpu", "cuda", "universal"]}
    print_kernel_info(str(tmp_path))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Path: {tmp_path}"
    assert "Minimum kernels version: 0.19.0" in lines and "Source: -" in lines
    assert lines[-2:] == ["Python dependencies: einops", "Backends: cpu, cuda, universal"]


@pytest.mark.parametrize(("args", "message"), [
    (["--revision", "main"], "error: --revision and --version cannot be used with a local path"),
    (["--revision", "main", "--version", "1"], "error: Only one of --revision or --version can be specified"),
    ([], "no build variants"),
])
def test_info_rejects_bad_arguments_with_status_1(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["info", str(tmp_path), *args])
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_describe_api_reads_sources_without_running_them(tmp_path: Path) -> None:
    init = ("import sys\nsys.exit('kernel code ran')\n__all__ = ['relu', 'gelu']\n"
            "def relu(x):\n    return x\ndef _private():\n    pass\n")
    variant = _variant(tmp_path, "torch-universal", METADATA, init)
    (variant / "layers.py").write_text("class Relu:\n    has_backward = False\nclass _Hidden:\n    pass\n")
    result = CliRunner().invoke(main, ["describe-api", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert [f["name"] for f in info["functions"]] == ["relu", "gelu"]
    assert info["layers"] == [{"name": "Relu", "attributes": {"has_backward": False, "can_torch_compile": None}}]
    text = CliRunner().invoke(main, ["describe-api", str(tmp_path)]).stdout
    assert "  Relu  has_backward=False  can_torch_compile=unknown" in text


def test_describe_api_prefers_symbols_json_and_checks_its_schema(tmp_path: Path) -> None:
    variant = _variant(tmp_path, "torch-universal", METADATA)
    symbols = {"schema_version": 1, "functions": [{"name": "silu"}], "layers": []}
    (variant / "symbols.json").write_text(json.dumps(symbols))
    assert variant_symbols(variant) == {"functions": [{"name": "silu"}], "layers": []}
    (variant / "symbols.json").write_text(json.dumps({**symbols, "schema_version": 2}))
    with pytest.raises(ValueError, match="expected schema_version 1"):
        variant_symbols(variant)


def test_cache_ls_lists_cached_versions(tmp_path: Path) -> None:
    snapshot = tmp_path / "kernels--org--act" / "snapshots" / ("a" * 40)
    _variant(snapshot, "torch-universal", METADATA)
    (tmp_path / "kernels--org--act" / "refs").mkdir()
    (tmp_path / "kernels--org--act" / "refs" / "v3").write_text("a" * 40)
    (tmp_path / "kernels--org--act" / "blobs").mkdir()
    result = CliRunner().invoke(main, ["cache", "ls", "--cache-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    [repo] = listed["repos"]
    assert repo["repo_id"] == "org/act"
    assert [(v["version"], v["variants"]) for v in repo["versions"]] == [(3, ["torch-universal"])]
    empty = CliRunner().invoke(main, ["cache", "ls", "--cache-dir", str(tmp_path / "none")])
    assert empty.stdout.startswith("No cached kernel versions found in ")


def test_verify_signature_without_sigstore_is_one_clear_line() -> None:
    result = CliRunner().invoke(main, ["verify-signature", "org/act", "1"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "sigstore" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert CliRunner().invoke(main, ["verify-signature", "org/act", "one"]).exit_code == 2
