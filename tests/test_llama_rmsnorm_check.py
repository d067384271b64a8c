"""tests/llama_rmsnorm_check.py when transformers will not use our kernels: one clear line, exit 2, no traceback."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

CHECK = Path(__file__).with_name("llama_rmsnorm_check.py")


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("llama_rmsnorm_check", CHECK)
    module = importlib.util.module_from_spec(spec)
    sys.modules["llama_rmsnorm_check"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["llama_rmsnorm_check"]


def test_no_problem_when_transformers_enables_the_integration(check):
    assert check.integration_problem("5.22.2", "0.17.2", ("0.17.2", "0.18.0"), enabled=True) is None


def test_a_window_that_excludes_our_version_names_the_window_and_the_transformers_range(check):
    line = check.integration_problem("5.17.0", "0.17.2", ("0.16.0", "0.17.0"), enabled=False)
    assert "transformers 5.17.0" in line and "kernels 0.17.2" in line
    assert "kernels >=0.16.0,<0.17.0" in line
    assert f"transformers{check.TRANSFORMERS_FOR_KERNELS['0.17']}" in line
    assert "\n" not in line


def test_a_transformers_without_a_readable_window_or_an_unknown_api_level_still_gets_one_line(check):
    line = check.integration_problem("4.40.0", "0.99.0", None, enabled=False)
    assert "no kernels version it can read" in line
    assert "written for this kernels API level" in line and "\n" not in line


def test_the_check_stops_before_building_the_model_when_transformers_refuses_our_kernels(
        check, tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    import_utils = pytest.importorskip("transformers.utils.import_utils")
    import kernels

    (tmp_path / "build").mkdir()
    major, minor = (int(part) for part in kernels.__version__.split(".")[:2])
    window = (f"{major}.{minor + 1}.0", f"{major}.{minor + 2}.0")  # a window one API level above ours
    monkeypatch.setattr(import_utils, "KERNELS_MIN_VERSION", window[0], raising=False)
    monkeypatch.setattr(import_utils, "KERNELS_MAX_VERSION", window[1], raising=False)
    monkeypatch.setattr(import_utils, "is_kernels_available", lambda *a, **k: False)

    assert check.main([str(tmp_path)]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("llama_rmsnorm_check.py: transformers ")
    assert f"kernels {kernels.__version__}" in line and f"kernels >={window[0]},<{window[1]}" in line
    assert "RESULT" not in captured.out
