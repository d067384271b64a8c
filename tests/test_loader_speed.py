"""bench/loader_speed.py: the loader benchmark runs end to end, and what it measures about our loader holds.

Only our side is exercised (``--ours-only``): the comparison with upstream
needs a second virtual environment with kernels from the package registry,
which the test suite does not create.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from e2e_support import REPO_ROOT

SCRIPT = REPO_ROOT / "bench" / "loader_speed.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("loader_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_quick_run_against_the_test_hub(relu_build, tmp_path: Path) -> None:
    report, raw = tmp_path / "report.md", tmp_path / "raw.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--ours-only", "--no-profile", "--kernel-dir",
         str(relu_build.kernel_dir), "--layers", "200", "--output", str(report), "--json", str(raw)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(raw.read_text())
    rows = {row["key"]: row for row in data["rows"]}
    assert list(rows) == ["import", "import_torch", "cold", "warm", "warm_offline", "warm_offline_sha", "warm_sha",
                          "cold_hub", "warm_sha_hub", "variants", "kernelize_local", "kernelize_hub"]
    requests = {key: row["median_requests"]["ours"] for key, row in rows.items()}
    details = {key: row["details"]["ours"] for key, row in rows.items()}

    # `import kernels` imports neither Torch nor huggingface_hub.
    assert details["import"]["torch_imported"] is details["import"]["hub_client_imported"] is False
    # A cached commit loads without a single request, online or offline, and so does a cached branch offline.
    assert requests["warm_sha"] == requests["warm_sha_hub"] == requests["warm_offline_sha"] == 0
    assert requests["warm_offline"] == 0
    # A cached branch online: v1 is resolved once, nothing else.
    assert [r for r in details["warm"]["requests"] if "agent-harnesses" not in r] == [
        "GET /api/kernels/kernels-community/relu/revision/v1"]
    # The cold load downloads only this machine's variant, and resolves v1 once.
    cold = details["cold"]["requests"]
    assert sum("/revision/v1" in r for r in cold) == 1
    assert any("/resolve/" in r for r in details["cold_hub"]["requests"])  # Cold as well, with its own cache.
    variant = relu_build.variant_dir.name
    assert all(f"/build/{variant}/" in r for r in cold if "/resolve/" in r)
    # 40 variants are judged from one listing, and only this machine's is accepted.
    assert details["variants"]["variants"] == 40 and details["variants"]["accepted"] == [variant]
    assert requests["variants"] == 1
    # kernelize swapped every layer's forward (the worker also checked the output).
    assert details["kernelize_local"]["replaced"] == details["kernelize_hub"]["replaced"] == 200
    assert requests["kernelize_local"] == 0

    text = report.read_text()
    assert text.startswith("# Loader performance")
    for row in data["rows"]:
        assert f"| {row['label']}" in text
    assert "| kernels (upstream) | not measured |" in text


def test_report_keeps_hand_written_text(tmp_path: Path) -> None:
    module = _load_script()
    report = tmp_path / "report.md"
    module.write_report(report, "first table\n")
    text = report.read_text()
    assert text.count(module.BEGIN) == text.count(module.END) == 1 and "first table" in text
    report.write_text("# Title by hand\n\nIntro.\n\n" + text.split("\n\n", 1)[1] + "\n## Analysis\n\nBy hand.\n")
    module.write_report(report, "second table\n")
    text = report.read_text()
    assert "first table" not in text and "second table" in text
    assert text.startswith("# Title by hand\n\nIntro.\n\n") and text.endswith("## Analysis\n\nBy hand.\n")


def test_variant_names() -> None:
    module = _load_script()
    names = module.variant_names("torch213-cxx11-cpu-x86_64-linux", 40)
    assert len(names) == len(set(names)) == 40 and names[0] == "torch213-cxx11-cpu-x86_64-linux"
    from kernels.variants import is_valid_variant_name

    assert all(is_valid_variant_name(name) for name in names)


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    for args, message in ((["--repeat", "0"], "--repeat, --variants and --layers must be at least 1"),
                          (["--kernel-dir", str(tmp_path / "missing")], "not a built kernel project")):
        result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--ours-only", *args],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode != 0
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
