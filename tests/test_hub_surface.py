"""Upstream's client surface against the test Hub: install_kernel, trust allow-lists, has_kernel, CLI info/variants."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from hub_server.helpers import last_json, push, run_python, variant_files

LOG_CAPTURE = """
import json, logging, kernels
records = []
class _Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())
logging.getLogger("kernels").addHandler(_Keep())
def attempt(call):
    try:
        return ["ok", repr(call())]
    except Exception as e:
        return [type(e).__name__, str(e), [c.__name__ for c in type(e).__mro__]]
"""


def _with_log(code: str) -> str:
    """``code`` after the log-capturing prelude (both at top level)."""
    return LOG_CAPTURE + textwrap.dedent(code)


def _push_versions(hub_server, repo_id: str, versions=(1, 2, 10)) -> None:
    for number in versions:
        push(hub_server, repo_id, variant_files("torch-universal", name="multi", version=number,
                                                init=f"VALUE = {number}\n"), branch=f"v{number}")


def test_install_kernel_paths_versions_and_offline(hub_server, hub_env, tmp_path) -> None:
    _push_versions(hub_server, "kernels-test/multi")
    empty = tmp_path / "empty-cache"
    out = last_json(run_python(_with_log(f"""
        from kernels import install_kernel
        path = install_kernel("kernels-test/multi", version=2)
        results = [str(path), (path / "metadata.json").is_file(), list(records)]
        results.append(attempt(lambda: install_kernel("kernels-test/multi", version=3)))
        results.append(attempt(lambda: install_kernel("kernels-test/multi", revision="v1", version=1)))
        results.append(attempt(lambda: install_kernel("kernels-test/multi")))
        import os
        os.environ["KERNELS_CACHE"] = {str(empty)!r}
        results.append(attempt(lambda: install_kernel("kernels-test/multi", revision="v1", local_files_only=True)))
        results.append(attempt(lambda: install_kernel("kernels-test/multi", version=1, local_files_only=True)))
        print(json.dumps(results))
    """), hub_env))
    path, has_metadata, logged, missing, both, neither, offline, offline_version = out
    assert path.endswith("/build/torch-universal") and has_metadata
    assert "You are using version 2 of 'kernels-test/multi', but version 10 is available." in logged
    assert missing[0] == "ValueError" and missing[1] == "Version 3 not found, available versions: 1, 2, 10"
    assert both[0] == "ValueError" and "not both" in both[1]
    assert neither[0] == "ValueError" and neither[1].startswith("A kernel version or revision must be specified")
    assert offline[0] == "KernelNotCachedError" and "FileNotFoundError" in offline[2]
    assert offline[1].startswith("Cannot find a local snapshot of kernels-test/multi@v1")
    assert offline_version[0] == "ValueError" and "offline mode" in offline_version[1]


def test_trust_list_is_an_allow_list_and_has_kernel_checks_trust(hub_server, hub_env) -> None:
    push(hub_server, "untrusted-org/allowed", variant_files("torch-universal", name="allowed"), branch="v1")
    out = last_json(run_python(_with_log("""
        results = [
            attempt(lambda: kernels.get_kernel("untrusted-org/allowed", version=1,
                                               trust_remote_code=["untrusted-org/allowed"]).VALUE),
            attempt(lambda: kernels.get_kernel("untrusted-org/allowed", version=1,
                                               trust_remote_code=["untrusted-org/other"])),
            attempt(lambda: kernels.has_kernel("untrusted-org/allowed", version=1)),
            attempt(lambda: kernels.has_kernel("untrusted-org/allowed", version=1, trust_remote_code=True)),
            attempt(lambda: kernels.has_kernel("untrusted-org/missing", version=1)),
            attempt(lambda: kernels.get_kernel("untrusted-org/allowed", version=1, trust_remote_code=[1])),
        ]
        print(json.dumps(results))
    """), hub_env))
    assert out[0] == ["ok", "42"]
    assert out[1][0] == "UntrustedPublisherError" and "ValueError" in out[1][2]
    assert out[2][:2] == out[1][:2]  # has_kernel refuses as get_kernel does.
    assert out[3] == ["ok", "True"]
    assert out[4] == ["ok", "False"]  # A missing repository has no kernel, whoever would publish it.
    assert out[5][0] == "TypeError"


def test_offline_without_trust_record_warns_and_loads_cached(hub_server, hub_env) -> None:
    push(hub_server, "untrusted-org/cached", variant_files("torch-universal", name="cached"), branch="v1")
    run_python("import kernels; kernels.get_kernel('untrusted-org/cached', version=1, trust_remote_code=True)",
               hub_env)
    hub_server.clear_requests()
    out = last_json(run_python(_with_log("""
        print(json.dumps([attempt(lambda: kernels.get_kernel("untrusted-org/cached", version=1).VALUE), records]))
    """), {**hub_env, "HF_HUB_OFFLINE": "1"}))
    assert out[0] == ["ok", "42"]
    assert any("Skipping publisher trust check for 'untrusted-org/cached'" in r for r in out[1])
    assert hub_server.requests() == []


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kernels.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_cli_info_and_variants_of_a_hub_kernel(hub_server, hub_env) -> None:
    _push_versions(hub_server, "kernels-test/multi-cli", versions=(1, 3))
    info = _cli(["info", "kernels-test/multi-cli", "--json"], hub_env)
    assert info.returncode == 0, info.stderr
    described = json.loads(info.stdout)
    assert (described["repo_id"], described["revision"], described["version"]) == ("kernels-test/multi-cli", "v3", 3)
    assert described["variant"] == "torch-universal" and described["backends"] == ["universal"]
    assert described["license"] == "Apache-2.0" and described["python_depends"] == []
    text = _cli(["info", "kernels-test/multi-cli", "--version", "1"], hub_env).stdout.splitlines()
    assert text[:3] == ["Repository: kernels-test/multi-cli", "Revision: v1", "Variant: torch-universal"]
    assert "Version: 1" in text and "Backends: universal" in text

    variants = _cli(["variants", "kernels-test/multi-cli", "--all-versions", "--json"], hub_env)
    listed = json.loads(variants.stdout)
    assert [r["version"] for r in listed["revisions"]] == [1, 3]
    assert listed["revisions"][0]["variants"] == [
        {"variant": "torch-universal", "compatible": True, "preferred": True, "reason": None}]
    latest = _cli(["variants", "kernels-test/multi-cli"], hub_env).stdout
    assert latest.startswith("Version 3:\n") and "✅ torch-universal (preferred)" in latest
    missing = _cli(["variants", "kernels-test/multi-cli", "--version", "2"], hub_env)
    assert (missing.returncode, missing.stderr) == (1, "error: Version 2 not found, available versions: 1, 3\n")
    deprecated = _cli(["versions", "kernels-test/multi-cli"], hub_env)
    assert deprecated.returncode == 0 and "deprecated" in deprecated.stderr
