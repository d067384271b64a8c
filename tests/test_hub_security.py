"""Issue 15, the loader and upload side: trust, bytecode, cache removal, timeouts, corrupt input, cache errors.

Every test runs unmodified huggingface_hub over real HTTP against the test Hub
(client code in fresh subprocesses, as HF_ENDPOINT is read at import time).
"""

from __future__ import annotations

import json
import os
import py_compile
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
from e2e_support import run_kernel_builder
from hub_server.helpers import hub_api, last_json, push, run_python, variant_files, write_tree

TAG = sys.implementation.cache_tag  # e.g. cpython-311


def _outcomes(calls: list[str], env: dict[str, str], timeout: float = 300) -> list[list[str]]:
    """Run each call in one fresh process: ``[exception type, message]`` or ``["ok", repr(result)]``."""
    code = "import json, kernels\nresults = []\n"
    for call in calls:
        code += textwrap.dedent(f"""
            try:
                results.append(["ok", repr({call})])
            except Exception as e:
                results.append([type(e).__name__, str(e)])
        """)
    code += "print(json.dumps(results))\n"
    return last_json(run_python(code, env, timeout=timeout))


def _unchecked_pyc(tmp_path: Path, source: str) -> bytes:
    """Bytecode Python runs without comparing it with the source (an unchecked hash-based .pyc)."""
    src = tmp_path / f"evil{abs(hash(source))}.py"
    src.write_text(source)
    out = tmp_path / f"{src.stem}.pyc"
    py_compile.compile(str(src), cfile=str(out), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return out.read_bytes()


# --- 1. Trust covers what the publisher published ------------------------------------------------


def test_pull_requests_and_unpublished_commits_need_trust(hub_server, hub_env) -> None:
    from huggingface_hub import CommitOperationAdd

    repo = "kernels-test/pr-greet"
    old = push(hub_server, repo, variant_files("torch-universal", name="greet", init="VALUE = 'old'\n"), branch="v1")
    push(hub_server, repo, variant_files("torch-universal", name="greet", init="VALUE = 'v1'\n"), branch="v1")
    pr = hub_api(hub_server).create_commit(
        repo, [CommitOperationAdd(path_in_repo="build/torch-universal/__init__.py", path_or_fileobj=b"VALUE = 'pr'\n")],
        commit_message="Anyone can propose this", revision="v1", repo_type="kernel", create_pr=True)
    pr_ref = pr.pr_revision
    assert pr_ref.startswith("refs/pr/")
    results = _outcomes([
        f"kernels.get_kernel({repo!r}, revision={pr_ref!r}).VALUE",
        f"kernels.get_kernel({repo!r}, revision={pr.oid!r}).VALUE",
        f"kernels.get_kernel({repo!r}, revision={old!r}).VALUE",  # An older commit of v1: published.
        f"kernels.get_kernel({repo!r}, version=1).VALUE",
        f"kernels.get_kernel({repo!r}, revision={pr_ref!r}, trust_remote_code=True).VALUE",
    ], hub_env)
    assert results[0][0] == "UntrustedPublisherError" and "is a pull request" in results[0][1]
    assert results[1][0] == "UntrustedPublisherError"
    assert f"{repo}@{pr.oid} is not on any branch or tag of {repo}" in results[1][1]
    assert "trust_remote_code=True" in results[1][1]
    assert results[2:] == [["ok", "'old'"], ["ok", "'v1'"], ["ok", "'pr'"]]

    # Offline, an unpublished commit cannot be vouched for either (even though it is now cached).
    offline = {**hub_env, "HF_HUB_OFFLINE": "1"}
    [refused] = _outcomes([f"kernels.get_kernel({repo!r}, revision={pr.oid!r}).VALUE"], offline)
    assert refused[0] == "UntrustedPublisherError" and "HF_HUB_OFFLINE" in refused[1]


# --- 2. Bytecode from the Hub is never downloaded or run ----------------------------------------


def test_bytecode_in_a_hub_variant_never_runs(hub_server, hub_env, tmp_path: Path) -> None:
    repo = "kernels-test/pyc-greet"
    extra = {
        "helper.py": b"VALUE = 'source'\n",
        f"__pycache__/__init__.{TAG}.pyc": _unchecked_pyc(tmp_path, "VALUE = 'bytecode-init'\n"),
        f"__pycache__/helper.{TAG}.pyc": _unchecked_pyc(tmp_path, "VALUE = 'bytecode-helper'\n"),
        "sourceless.pyc": _unchecked_pyc(tmp_path, "VALUE = 'sourceless'\n"),
    }
    push(hub_server, repo, variant_files("torch-universal", name="pyc-greet", init="from .helper import VALUE\n",
                                         extra=extra), branch="v1")
    cache = tmp_path / "cache"
    out = last_json(run_python(f"""
        import json, kernels
        kernel = kernels.get_kernel({repo!r}, version=1)
        try:
            from importlib import import_module
            import_module(kernel.__name__ + ".sourceless")
            sourceless = "imported"
        except ImportError:
            sourceless = "refused"
        print(json.dumps([kernel.VALUE, sourceless, kernel.__file__]))
    """, {**hub_env, "KERNELS_CACHE": str(cache)}))
    assert out[:2] == ["source", "refused"]
    variant_dir = Path(out[2]).parent
    assert not [p for p in variant_dir.rglob("*") if p.suffix == ".pyc" or p.name == "__pycache__"]


def test_bytecode_next_to_hub_benchmarks_never_runs(hub_server, hub_env, tmp_path: Path) -> None:
    repo = "kernels-test/pyc-bench"
    script = textwrap.dedent("""
        import torch
        from kernels.benchmark import Benchmark

        class Plain(Benchmark):
            def setup(self):
                self.x = torch.ones(4)

            def benchmark_plain(self):
                self.out = self.x + self.kernel.VALUE
    """).encode()
    evil = _unchecked_pyc(tmp_path, "raise SystemExit('bytecode ran')\n")
    files = variant_files("torch-universal", name="pyc-bench", init="VALUE = 1\n")
    files.update({"benchmarks/benchmark_plain.py": script,
                  f"benchmarks/__pycache__/benchmark_plain.{TAG}.pyc": evil})
    push(hub_server, repo, files, branch="v1")
    result = subprocess.run([sys.executable, "-m", "kernels.cli", "benchmark", f"{repo}@v1", "--warmup", "0",
                             "--iterations", "1"], env={**hub_env, "KERNELS_CACHE": str(tmp_path / "cache")},
                            capture_output=True, text=True, timeout=300)
    assert "bytecode ran" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stderr


# --- 3 and 4. Locked loads run only hashed bytes; removal never leaves the cache -----------------

PYPROJECT = """\
[project]
name = "lockedproject"
version = "0.1"

[tool.kernels.dependencies]
"{repo}" = 1
"""


def _locked_download(hub_server, hub_env, tmp_path: Path, repo: str) -> tuple[dict[str, str], Path, Path]:
    """Publish ``repo`` v1, lock and download it; returns the env, the lock file and the cached variant."""
    push(hub_server, repo, variant_files("torch-universal", name="locked", init="VALUE = 'hashed'\n"), branch="v1")
    env = {**hub_env, "KERNELS_CACHE": str(tmp_path / "cache")}
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT.format(repo=repo))
    for command in ("lock", "download"):
        subprocess.run([sys.executable, "-m", "kernels.cli", command, str(project)], env=env, check=True,
                       capture_output=True, timeout=300)
    [variant_dir] = (tmp_path / "cache").glob(f"kernels--{repo.replace('/', '--')}/snapshots/*/build/torch-universal")
    return env, project / "kernels.lock", variant_dir


def test_bytecode_injected_into_a_locked_variant_never_runs(hub_server, hub_env, tmp_path: Path) -> None:
    repo = "kernels-test/locked-pyc"
    env, lockfile, variant_dir = _locked_download(hub_server, hub_env, tmp_path, repo)
    (variant_dir / "__pycache__").mkdir()
    (variant_dir / "__pycache__" / f"__init__.{TAG}.pyc").write_bytes(
        _unchecked_pyc(tmp_path, "VALUE = 'bytecode'\n"))
    [result] = _outcomes([f"kernels.load_kernel({repo!r}, lockfile={str(lockfile)!r}).VALUE"],
                         {**env, "HF_HUB_OFFLINE": "1"})
    assert result[0] == "LockHashMismatchError", result
    assert f"__pycache__/__init__.{TAG}.pyc is not part of the locked commit" in result[1]


def test_hash_mismatch_cleanup_never_follows_links_out_of_the_cache(hub_server, hub_env, tmp_path: Path) -> None:
    repo = "kernels-test/locked-links"
    env, lockfile, variant_dir = _locked_download(hub_server, hub_env, tmp_path, repo)
    precious = tmp_path / "precious.txt"
    precious.write_text("the user's file\n")
    outside_dir = tmp_path / "user-dir"
    outside_dir.mkdir()
    (outside_dir / "notes.txt").write_text("keep\n")
    (variant_dir / "__init__.py").unlink()
    (variant_dir / "__init__.py").symlink_to(precious)
    (variant_dir / "linked-dir").symlink_to(outside_dir, target_is_directory=True)
    [result] = _outcomes([f"kernels.load_kernel({repo!r}, lockfile={str(lockfile)!r}).VALUE"],
                         {**env, "HF_HUB_OFFLINE": "1"})
    assert result[0] == "LockHashMismatchError" and "the cached files were deleted" in result[1]
    assert precious.read_text() == "the user's file\n"
    assert (outside_dir / "notes.txt").read_text() == "keep\n"
    assert not variant_dir.exists()


# --- 5. Every request is bounded ------------------------------------------------------------------


@pytest.fixture
def silent_hub() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_a_hub_that_never_answers_times_out(silent_hub: str, hub_env, tmp_path: Path) -> None:
    env = {**hub_env, "HF_ENDPOINT": silent_hub, "KERNELS_HUB_TIMEOUT": "1"}
    start = time.monotonic()
    [result] = _outcomes(["kernels.get_kernel('kernels-community/relu', version=1)"], env, timeout=120)
    assert time.monotonic() - start < 90
    assert result[0] == "HubTimeoutError", result
    assert result[1] == (f"looking up kernels-community/relu@v1: the Hub at {silent_hub} did not answer within 1 s "
                         "(set KERNELS_HUB_TIMEOUT to wait longer)")

    kernel_dir = tmp_path / "greet"
    write_tree(kernel_dir, variant_files("torch-universal", name="greet"))
    start = time.monotonic()
    upload = subprocess.run([sys.executable, "-m", "kernel_builder", "upload", str(kernel_dir), "--repo-id",
                             "kernels-test/greet"], env=env, capture_output=True, text=True, timeout=120)
    assert time.monotonic() - start < 90
    assert upload.returncode == 1
    [line] = upload.stderr.strip().splitlines()
    assert silent_hub in line and "did not answer within 1 s" in line, line

    [bad] = _outcomes(["kernels.get_kernel('kernels-community/relu', version=1)"],
                      {**env, "KERNELS_HUB_TIMEOUT": "soon"})
    assert bad == ["ValueError", "KERNELS_HUB_TIMEOUT must be a positive number of seconds, got 'soon'"]


# --- 7. Corrupt metadata.json and kernels.lock: one error of the documented type, naming the file ---

CORRUPTIONS = {
    "utf8": b'{"name": "\xff\xfe"}',
    "nesting": b"[" * 100_000 + b"]" * 100_000,
    "bigint": b'{"version": ' + b"1" * 5000 + b"}",
}


def test_corrupt_metadata_json_is_one_metadata_error(hub_server, hub_env) -> None:
    repo = "kernels-test/corrupt-metadata"
    for kind, data in CORRUPTIONS.items():
        files = variant_files("torch-universal", name="corrupt", metadata="")
        files["build/torch-universal/metadata.json"] = data
        push(hub_server, repo, files, branch=f"{kind}")
    results = _outcomes([f"kernels.get_kernel({repo!r}, revision={kind!r})" for kind in CORRUPTIONS], hub_env)
    for kind, (error, message) in zip(CORRUPTIONS, results):
        assert error == "MetadataError", (kind, error, message)
        assert message.startswith(f"{repo}@{kind}: build/torch-universal/metadata.json: "), message
        assert "\n" not in message and len(message) < 400


def test_corrupt_kernels_lock_is_one_lockfile_error(tmp_path: Path, hub_env) -> None:
    calls = []
    for kind, data in CORRUPTIONS.items():
        path = tmp_path / f"{kind}.lock"
        path.write_bytes(data)
        calls.append(f"kernels.load_kernel('kernels-test/x', lockfile={str(path)!r})")
    for (kind, _), (error, message) in zip(CORRUPTIONS.items(), _outcomes(calls, hub_env)):
        assert error == "LockfileError", (kind, error, message)
        assert message.startswith(f"{tmp_path / (kind + '.lock')}: "), message
        assert "\n" not in message and len(message) < 400


# --- 10. An unusable cache directory is named -----------------------------------------------------


def test_unusable_cache_directory_is_named(hub_server, hub_env, tmp_path: Path) -> None:
    push(hub_server, "kernels-test/cache-greet", variant_files("torch-universal", name="greet"), branch="v1")
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory\n")
    caches = [a_file, a_file / "cache"]
    if os.geteuid() != 0:  # root writes into read-only directories anyway
        read_only = tmp_path / "read-only"
        read_only.mkdir(mode=0o555)
        caches.append(read_only)
    for cache in caches:
        [result] = _outcomes(["kernels.get_kernel('kernels-test/cache-greet', version=1)"],
                             {**hub_env, "KERNELS_CACHE": str(cache)})
        assert result[0] == "CacheDirectoryError", (cache, result)
        assert result[1].startswith(f"the kernel cache directory {cache} (KERNELS_CACHE) is unusable: "), result


# --- 11 and 12. Upload: atomic version branches, no links out of the project ----------------------


def test_a_version_branch_appears_only_with_its_whole_content(hub_server, hub_env, tmp_path: Path) -> None:
    repo = "kernels-test/atomic-upload"
    kernel_dir = tmp_path / "greet"
    write_tree(kernel_dir, variant_files("torch-universal", name="greet"))
    # The Hub dies after the repository exists: no commit and no branch deletion goes through.
    hub_server.fail_api("POST", f"/api/kernels/{repo}/commit/*", 500)
    hub_server.fail_api("DELETE", f"/api/kernels/{repo}/branch/*", 500)
    try:
        failed = run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, env=hub_env, check=False)
    finally:
        hub_server.clear_faults()
    assert failed.returncode == 1
    branches = {b.name for b in hub_api(hub_server).list_repo_refs(repo, repo_type="kernel").branches}
    assert "v1" not in branches

    run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, env=hub_env)
    files = hub_server.git(repo, "ls-tree", "-r", "--name-only", "v1", repo_type="kernel").split()
    assert "build/torch-universal/__init__.py" in files and "build/torch-universal/metadata.json" in files
    after = {b.name for b in hub_api(hub_server).list_repo_refs(repo, repo_type="kernel").branches}
    assert after - branches == {"v1"}  # The successful upload's staging branch is gone.


def test_upload_refuses_links_out_of_the_project(hub_server, hub_env, tmp_path: Path) -> None:
    repo = "kernels-test/linked-secret"
    secret = tmp_path / "secret.txt"
    secret.write_text("hf_secret_token\n")
    kernel_dir = tmp_path / "greet"
    write_tree(kernel_dir, variant_files("torch-universal", name="greet"))
    (kernel_dir / "build" / "torch-universal" / "notes.txt").symlink_to(secret)
    (kernel_dir / "build" / "torch-universal" / "inside.txt").symlink_to(kernel_dir / "build" / "torch-universal"
                                                                         / "__init__.py")
    hub_server.clear_requests()
    result = run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, env=hub_env, check=False)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "notes.txt" in line and "outside the kernel project" in line and str(secret) in line
    assert hub_server.requests() == []  # Refused before any request.

    (kernel_dir / "build" / "torch-universal" / "notes.txt").unlink()
    run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, env=hub_env)  # Links inside are fine.
    assert json.loads(json.dumps(hub_server.git(repo, "show", "v1:build/torch-universal/inside.txt",
                                                repo_type="kernel"))) == "VALUE = 42\n"
