"""``get_kernel`` and friends against the test Hub, each load in a fresh process.

HF_ENDPOINT is read when huggingface_hub is imported, so client code runs in
subprocesses with the test Hub's environment (``hub_env``).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from hub_server.helpers import hub_api, last_json, push, run_python, variant_files

from kernel_builder.upload import git_blob_sha

RELU = "kernels-community/relu"

CHECK_RELU = """
    import json, torch, kernels
    relu = kernels.get_kernel({repo!r}, {selector})
    x = torch.randn(1031, 7)
    assert torch.equal(relu.relu(x), torch.relu(x))
    [loaded] = [k for k in kernels.get_loaded_kernels() if k.module is relu]
    print(json.dumps({{"file": relu.__file__, "repo_id": loaded.repo_info.repo_id,
                      "revision": loaded.repo_info.revision, "version": loaded.metadata.version}}))
"""


def _load_relu(env: dict[str, str], selector: str = "version=1", repo: str = RELU) -> dict:
    return last_json(run_python(CHECK_RELU.format(repo=repo, selector=selector), env))


def _errors(calls: list[str], env: dict[str, str]) -> list[list[str]]:
    """Run each call and report ``[exception type, message]`` (or ``["ok", repr(result)]``)."""
    code = "import json, warnings, kernels\nresults = []\n"
    for call in calls:
        code += textwrap.dedent(f"""
            caught = []
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    value = {call}
                results.append(["ok", repr(value)])
            except Exception as e:
                results.append([type(e).__name__, str(e)])
            results[-1].append([str(w.message) for w in caught])
        """)
    code += "print(json.dumps(results))\n"
    return last_json(run_python(code, env))


def _snapshot_files(cache: Path, repo: str, commit: str, repo_type: str = "kernel") -> list[str]:
    snapshot = cache / f"{repo_type}s--{repo.replace('/', '--')}" / "snapshots" / commit
    return sorted(p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file())


def _remote_files(hub_server, repo: str, ref: str, prefix: str = "", repo_type: str = "kernel") -> dict[str, str]:
    out = hub_server.git(repo, "ls-tree", "-r", ref, repo_type=repo_type)
    files = {line.split("\t", 1)[1]: line.split()[2] for line in out.splitlines()}
    return {p: s for p, s in files.items() if p.startswith(prefix)}


def _machine() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def _push_incompatible(hub_server) -> None:
    """kernels-test/cuda-only: variants for CUDA and for another CPU architecture, none for this machine."""
    from kernels.variants import current_variant

    arch = _machine()
    other = current_variant("cpu").replace(f"-{arch}-", "-aarch64-" if arch == "x86_64" else "-x86_64-")
    push(hub_server, "kernels-test/cuda-only", {
        **variant_files(f"torch211-cxx11-cu126-{arch}-linux", name="cuda-only", backend="cuda"),
        **variant_files("torch-cuda", name="cuda-only", backend="cuda"),
        **variant_files(other, name="cuda-only"),
    }, branch="v1")


# --- Loading ----------------------------------------------------------------------------------------


def test_get_kernel_downloads_only_the_matching_variant(published_relu, hub_server, hub_env, tmp_path: Path) -> None:
    cache = tmp_path / "kernels-cache"
    env = {**hub_env, "KERNELS_CACHE": str(cache)}
    hub_server.clear_requests()
    out = _load_relu(env)
    variant = published_relu.variant
    assert (out["repo_id"], out["revision"], out["version"]) == (RELU, published_relu.commit, 1)
    # Only build/<this environment's variant>/ was downloaded (v1 has three other variants), into KERNELS_CACHE.
    prefix = f"build/{variant}/"
    assert _snapshot_files(cache, RELU, published_relu.commit) == sorted(_remote_files(hub_server, RELU, "v1", prefix))
    snapshot = cache / "kernels--kernels-community--relu" / "snapshots" / published_relu.commit
    assert Path(out["file"]) == snapshot / "build" / variant / "__init__.py"
    downloads = [r.path for r in hub_server.requests() if "/resolve/" in r.path]
    assert downloads and all(f"/build/{variant}/" in p for p in downloads)
    assert not (Path(hub_env["HF_HOME"]) / "hub" / "kernels--kernels-community--relu").exists()


def test_two_versions_load_side_by_side(published_relu, published_relu_v2, hub_env) -> None:
    out = last_json(run_python("""
        import json, torch, kernels
        v1 = kernels.get_kernel("kernels-community/relu", version=1)
        v2 = kernels.get_kernel("kernels-community/relu", version=2)
        assert v1 is not v2 and v1.__name__ != v2.__name__
        assert v1.ops is torch.ops._relu_cpu_first and v2.ops is torch.ops._relu_cpu_second
        x = torch.randn(100)
        assert torch.equal(v1.relu(x), torch.relu(x)) and torch.equal(v2.relu(x), torch.relu(x))
        print(json.dumps(sorted([k.metadata.version, k.repo_info.revision] for k in kernels.get_loaded_kernels())))
    """, hub_env))
    assert out == [[1, published_relu.commit], [2, published_relu_v2.commit]]


def test_revision_may_be_a_branch_tag_or_sha(published_relu, hub_server, hub_env) -> None:
    api = hub_api(hub_server)
    tags = {t.name for t in api.list_repo_refs(RELU, repo_type="kernel").tags}
    if "relu-first" not in tags:
        api.create_tag(RELU, tag="relu-first", revision=published_relu.commit, repo_type="kernel")
    out = last_json(run_python(f"""
        import json, torch, kernels
        by_branch = kernels.get_kernel({RELU!r}, revision="v1")
        by_tag = kernels.get_kernel({RELU!r}, revision="relu-first")
        by_sha = kernels.get_kernel({RELU!r}, revision={published_relu.commit!r})
        assert by_branch is by_tag is by_sha  # One commit, one variant directory, one module.
        print(json.dumps([k.repo_info.revision for k in kernels.get_loaded_kernels()]))
    """, hub_env))
    assert out == [published_relu.commit]


def test_warm_cache_loads_make_no_requests(published_relu, hub_server, hub_env, tmp_path: Path) -> None:
    _load_relu(hub_env)  # Cold: downloads and remembers that the publisher is trusted.
    sha = published_relu.commit

    hub_server.clear_requests()
    assert _load_relu(hub_env, f"revision={sha!r}")["revision"] == sha
    assert hub_server.requests() == []  # A commit never changes: cache only.

    offline = {**hub_env, "HF_HUB_OFFLINE": "1"}
    assert _load_relu(offline, "version=1")["revision"] == sha
    assert _load_relu(offline, f"revision={sha!r}")["revision"] == sha
    assert hub_server.requests() == []

    # Offline with a cold cache: a clear error, still no request.
    errors = _errors([f"kernels.get_kernel({RELU!r}, version=1)"],
                     {**offline, "KERNELS_CACHE": str(tmp_path / "empty-cache")})
    assert errors[0][:2] == ["KernelNotCachedError", f"{RELU}@v1 is not in the kernel cache ({tmp_path / 'empty-cache'}) "
                             "and HF_HUB_OFFLINE is set: load it once online first"]
    assert hub_server.requests() == []


def test_unreachable_hub_loads_the_recorded_branch(published_relu, hub_server, hub_env, tmp_path: Path) -> None:
    """A branch resolved before (recorded in the cache's refs/) loads from the cache when the Hub is unreachable."""
    import socket

    env = {**hub_env, "KERNELS_CACHE": str(tmp_path / "cache")}
    hub_server.clear_requests()
    assert _load_relu(env)["revision"] == published_relu.commit
    # v1 was resolved once: the download reused the answer instead of asking again.
    assert [r.path for r in hub_server.requests()].count(f"/api/kernels/{RELU}/revision/v1") == 1

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # The trusted-publisher answer is remembered per endpoint, hence trust_remote_code for this one.
    result = run_python(CHECK_RELU.format(repo=RELU, selector="version=1, trust_remote_code=True"),
                        {**env, "HF_ENDPOINT": closed})
    assert json.loads(result.stdout.strip().splitlines()[-1])["revision"] == published_relu.commit
    assert RELU in result.stderr  # huggingface_hub warns that it used the cached commit.


def test_has_kernel_and_get_kernel_variants(published_relu, hub_server, hub_env) -> None:
    arch = _machine()
    _push_incompatible(hub_server)
    hub_server.clear_requests()
    results = _errors([
        f"kernels.has_kernel({RELU!r}, version=1)",
        f"kernels.has_kernel({RELU!r}, version=9)",
        "kernels.has_kernel('kernels-community/does-not-exist', version=1)",
        "kernels.has_kernel('kernels-test/cuda-only', version=1)",
        f"[(type(d).__name__, d.variant, getattr(d, 'rank', None), getattr(d, 'reason', None)) "
        f"for d in kernels.get_kernel_variants({RELU!r}, version=1)]",
    ], hub_env)
    assert [r[:2] for r in results[:4]] == [["ok", "True"], ["ok", "False"], ["ok", "False"], ["ok", "False"]]
    decisions = eval(results[4][1])  # noqa: S307 - our own repr of tuples of strings and ints
    cuda, other_arch, universal = published_relu.foreign_variants
    assert decisions[:2] == [("VariantAccepted", published_relu.variant, 0, None),
                             ("VariantAccepted", "torch-universal", 2, None)]
    rejected = {d[1]: d[3] for d in decisions[2:]}
    assert [d[0] for d in decisions[2:]] == ["VariantRejected"] * 2
    assert rejected[cuda] == "built for backend cuda (CUDA 12.6) instead of cpu (CPU), Torch 2.11 instead of 2.13.0"
    other = "aarch64" if arch == "x86_64" else "x86_64"
    assert rejected[other_arch] == f"built for CPU architecture {other} instead of {arch}"
    # Nothing was downloaded to answer these questions.
    assert not [r for r in hub_server.requests() if "/resolve/" in r.path]


def test_bad_input_is_one_clear_error(published_relu, hub_server, hub_env) -> None:
    arch = _machine()
    _push_incompatible(hub_server)
    results = _errors([
        "kernels.get_kernel('kernels-community/does-not-exist', version=1)",
        f"kernels.get_kernel({RELU!r}, version=9)",
        f"kernels.get_kernel({RELU!r}, revision='no-such-branch')",
        f"kernels.get_kernel({RELU!r})",
        f"kernels.get_kernel({RELU!r}, version=1, revision='v1')",
        "kernels.get_kernel('kernels-test/cuda-only', version=1)",
        f"kernels.get_kernel({RELU!r}, version=1, backend='cuda')",
    ], hub_env)
    assert results[0][:2] == ["KernelNotFoundError", f"kernel repository 'kernels-community/does-not-exist' not found "
                              f"on {hub_server.url} (it does not exist, or it is private and you are not logged in)"]
    assert results[1][0] == "KernelRevisionNotFoundError"
    assert results[1][1].startswith(f"{RELU} has no version 9 (no branch 'v9'); available versions: 1")
    assert results[2][0] == "KernelRevisionNotFoundError"
    assert results[2][1].startswith(f"{RELU} has no revision 'no-such-branch' (branch, tag or commit sha)")
    assert results[3][:2] == ["ValueError", "A kernel version or revision must be specified: "
                              f"loading '{RELU}' from the Hub needs a 'version' or a 'revision'"]
    assert results[4][:2] == ["ValueError", "Only one of `revision` or `version` must be specified: "
                              "pass either 'revision' or 'version', not both"]
    assert results[5][0] == "VariantNotFoundError"
    message = results[5][1]
    assert message.startswith("kernels-test/cuda-only@v1 has no build variant for this environment (Torch 2.13")
    assert f"backend cpu (CPU), {arch}-linux)" in message
    assert ("torch-cuda: Python-only build for backend cuda, but this environment uses backend cpu" in message)
    assert (f"torch211-cxx11-cu126-{arch}-linux: built for backend cuda (CUDA 12.6) instead of cpu (CPU), "
            "Torch 2.11 instead of 2.13.0") in message
    other = "aarch64" if arch == "x86_64" else "x86_64"
    assert f"-{other}-linux: built for CPU architecture {other} instead of {arch}" in message
    assert results[6][0] == "ValueError" and "backend 'cuda' is not available" in results[6][1]

    # An unreachable Hub is one line too.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    [unreachable] = _errors([f"kernels.get_kernel({RELU!r}, version=1)"], {**hub_env, "HF_ENDPOINT": closed})
    assert unreachable[0] == "HubRequestError"
    assert unreachable[1].startswith(f"looking up {RELU}@v1: cannot reach the Hub at {closed} (")


def test_publishers_must_be_trusted(hub_server, hub_env) -> None:
    greet = variant_files("torch-universal", name="greet", init="VALUE = 'untrusted'\n")
    push(hub_server, "untrusted-org/greet", greet, branch="v1")
    push(hub_server, "some-user/greet", greet, branch="v1")
    hub_server.clear_requests()
    results = _errors([
        "kernels.get_kernel('untrusted-org/greet', version=1)",
        "kernels.get_kernel('untrusted-org/greet', version=1, trust_remote_code=['sigstore:someone'])",
        "kernels.get_kernel('some-user/greet', version=1)",
    ], hub_env)
    how = "pass trust_remote_code=True to load it anyway"
    assert results[0] == ["UntrustedPublisherError",
                          f"untrusted-org/greet is not from a trusted kernel publisher ('untrusted-org'); {how}", []]
    # A list is an allow-list of repository ids: one that does not name the repository changes nothing.
    assert results[1] == results[0]
    assert results[2][:2] == ["UntrustedPublisherError",
                              f"some-user/greet is not from a trusted kernel publisher ('some-user'); {how}"]
    # Refused kernels are not even downloaded.
    assert not [r for r in hub_server.requests() if "/resolve/" in r.path]
    assert "/api/organizations/untrusted-org/overview" in [r.path for r in hub_server.requests()]

    out = last_json(run_python("""
        import json, kernels
        print(json.dumps(kernels.get_kernel("untrusted-org/greet", version=1, trust_remote_code=True).VALUE))
    """, hub_env))
    assert out == "untrusted"


def test_broken_variants_are_reported(hub_server, hub_env) -> None:
    push(hub_server, "kernels-test/corrupt", variant_files("torch-universal", name="corrupt", metadata="{not json"),
         branch="v1")
    push(hub_server, "kernels-test/no-metadata", variant_files("torch-universal", name="no-metadata", metadata=""),
         branch="v1")
    push(hub_server, "kernels-test/bad-metadata", variant_files(
        "torch-universal", name="bad", metadata={"id": "_bad", "name": "bad", "version": 1, "backend": {"type": "cpu"}}),
        branch="v1")
    results = _errors([
        "kernels.get_kernel('kernels-test/corrupt', version=1)",
        "kernels.get_kernel('kernels-test/bad-metadata', version=1)",
        "[(type(d).__name__, d.variant, getattr(d, 'reason', None)) "
        "for d in kernels.get_kernel_variants('kernels-test/no-metadata', version=1)]",
        "kernels.get_kernel('kernels-test/no-metadata', version=1)",
        "kernels.has_kernel('kernels-test/no-metadata', version=1)",
    ], hub_env)
    assert results[0][0] == "MetadataError"
    assert results[0][1].startswith("kernels-test/corrupt@v1: build/torch-universal/metadata.json: invalid JSON")
    assert results[1][:2] == ["MetadataError", "kernels-test/bad-metadata@v1: build/torch-universal/metadata.json: "
                                               "missing required key 'license'"]
    assert results[2][1] == "[('VariantRejected', 'torch-universal', 'incomplete build variant: no metadata.json')]"
    assert results[3][0] == "VariantNotFoundError"
    assert results[3][1].endswith("torch-universal: incomplete build variant: no metadata.json")
    assert results[4][:2] == ["ok", "False"]


def test_python_dependencies_are_checked_for_the_active_backend(hub_server, hub_env) -> None:
    needs_einops = {"id": "_needs_einops", "name": "needs-einops", "version": 1, "license": "MIT",
                    "backend": {"type": "cpu"}, "python-depends": ["einops"]}
    cuda_only_dep = {"id": "_cuda_dep", "name": "cuda-dep", "version": 1, "license": "MIT",
                     "backend": {"type": "cpu"}, "python-depends-backends": {"cuda": ["nvidia-cutlass-dsl"]}}
    push(hub_server, "kernels-test/needs-einops", variant_files("torch-universal", name="needs-einops",
                                                                metadata=needs_einops), branch="v1")
    push(hub_server, "kernels-test/cuda-dep", variant_files("torch-universal", name="cuda-dep",
                                                            metadata=cuda_only_dep), branch="v1")
    results = _errors([
        "kernels.get_kernel('kernels-test/needs-einops', version=1)",
        "kernels.get_kernel('kernels-test/cuda-dep', version=1).VALUE",
    ], hub_env)
    assert results[0][0] == "MissingDependencyError"
    assert "needs the Python package 'einops'" in results[0][1] and "pip install einops" in results[0][1]
    assert results[1][:2] == ["ok", "42"]  # The CUDA-only dependency does not matter on CPU.


def test_legacy_model_repositories_still_load(hub_server, hub_env) -> None:
    push(hub_server, "kernels-test/legacy", variant_files("torch-universal", name="legacy", init="VALUE = 'model'\n"),
         branch="v1", repo_type="model")
    hub_server.clear_requests()
    results = _errors(["kernels.get_kernel('kernels-test/legacy', version=1).VALUE"], hub_env)
    assert results[0][:2] == ["ok", "'model'"]
    paths = [r.path for r in hub_server.requests()]
    assert paths[0] == "/api/kernels/kernels-test/legacy/revision/v1"  # Kernel repositories are tried first.
    assert "/api/models/kernels-test/legacy/revision/v1" in paths


def test_local_kernels_overrides_the_hub(published_relu, hub_server, hub_env, relu_build) -> None:
    hub_server.clear_requests()
    env = {**hub_env, "LOCAL_KERNELS": f"{RELU}={relu_build.kernel_dir}"}
    out = last_json(run_python(f"""
        import json, torch, kernels
        relu = kernels.get_kernel({RELU!r}, version=1)
        [loaded] = kernels.get_loaded_kernels()
        decisions = kernels.get_kernel_variants({RELU!r}, version=1)
        print(json.dumps([relu.__file__, loaded.repo_info, kernels.has_kernel({RELU!r}, version=1),
                          [d.variant for d in decisions]]))
    """, env))
    assert out == [str(relu_build.variant_dir / "__init__.py"), None, True, [relu_build.variant_dir.name]]
    assert hub_server.requests() == []


def test_user_agent_telemetry(published_relu, hub_server, hub_env) -> None:
    env = {k: v for k, v in hub_env.items() if k != "HF_HUB_DISABLE_TELEMETRY"}
    hub_server.clear_requests()
    run_python(f"import kernels; kernels.get_kernel({RELU!r}, version=1, user_agent={{'app': 'tests'}})", env)
    # (huggingface_hub may make requests of its own, e.g. /api/agent-harnesses: only ours are checked.)
    ours = [r for r in hub_server.requests() if "kernels-community/relu" in r.path or "/organizations/" in r.path]
    agents = {r.user_agent for r in ours}
    assert agents
    import torch

    import kernels

    for agent in agents:
        for part in ("app/tests", f"kernels/{kernels.__version__}", f"torch/{torch.__version__}", "backend/cpu",
                     f"platform/{_machine()}-linux", f"python/{sys.version_info[0]}.{sys.version_info[1]}"):
            assert part in agent, agent

    hub_server.clear_requests()
    run_python(f"import kernels; kernels.get_kernel({RELU!r}, version=1, user_agent={{'app': 'tests'}})",
               {**env, "DISABLE_TELEMETRY": "1"})
    agents = {r.user_agent for r in hub_server.requests() if "kernels-community/relu" in r.path}
    assert agents and not any("kernels/" in a or "app/tests" in a or "backend/" in a for a in agents)


# --- Cache robustness -------------------------------------------------------------------------------


def test_interrupted_download_recovers(published_relu, hub_server, hub_env, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {**hub_env, "KERNELS_CACHE": str(cache)}
    fault = hub_server.add_fault(f"build/{published_relu.variant}/*.so", action="stall")
    code = textwrap.dedent(CHECK_RELU.format(repo=RELU, selector="version=1"))
    process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    prefix = f"build/{published_relu.variant}/"
    remote = _remote_files(hub_server, RELU, published_relu.commit, prefix)
    try:
        assert fault.hit.wait(120), "the download never started"
        # Wait until the other files are in and the shared library is being written.
        deadline = time.monotonic() + 60
        while not (list(cache.rglob("*.incomplete")) and
                   len(_snapshot_files(cache, RELU, published_relu.commit)) == len(remote) - 1):
            assert time.monotonic() < deadline, "the download did not get halfway"
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait()
        hub_server.clear_faults()
    # Killed halfway: the snapshot lacks the shared library, whose download was left incomplete.
    partial = _snapshot_files(cache, RELU, published_relu.commit)
    leftovers = set(cache.rglob("*.incomplete"))
    assert not [p for p in partial if p.endswith(".so")] and leftovers

    hub_server.clear_requests()
    out = _load_relu(env)
    assert out["revision"] == published_relu.commit
    # The next call fetched only what was missing and completed the snapshot.
    downloads = [r.path for r in hub_server.requests() if r.method == "GET" and "/resolve/" in r.path]
    assert len(downloads) == 1 and downloads[0].endswith(".so")
    # (huggingface_hub names temporary files per process: the dead process's stays behind, unused.)
    assert set(cache.rglob("*.incomplete")) == leftovers
    snapshot = cache / "kernels--kernels-community--relu" / "snapshots" / published_relu.commit
    assert {p: git_blob_sha((snapshot / p).read_bytes()) for p in _snapshot_files(cache, RELU, published_relu.commit)} \
        == remote


def test_concurrent_cold_loads_share_one_consistent_cache(published_relu, hub_server, hub_env,
                                                          tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {**hub_env, "KERNELS_CACHE": str(cache)}
    code = textwrap.dedent(CHECK_RELU.format(repo=RELU, selector="version=1"))
    processes = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr
        assert json.loads(stdout.strip().splitlines()[-1])["revision"] == published_relu.commit
    assert not list(cache.rglob("*.incomplete"))
    snapshot = cache / "kernels--kernels-community--relu" / "snapshots" / published_relu.commit
    files = _snapshot_files(cache, RELU, published_relu.commit)
    assert {p: git_blob_sha((snapshot / p).read_bytes()) for p in files} == \
        _remote_files(hub_server, RELU, published_relu.commit, f"build/{published_relu.variant}/")


# --- kernels versions -------------------------------------------------------------------------------


def test_kernels_versions_lists_versions_and_compatible_variants(published_relu, published_relu_v2, hub_env) -> None:
    result = subprocess.run([sys.executable, "-m", "kernels.cli", "versions", RELU], env=hub_env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    cuda, other_arch, _ = published_relu.foreign_variants
    v1 = sorted([cuda, other_arch, "✅ torch-universal (compatible)", f"✅ {published_relu.variant} (preferred)"],
                key=lambda item: item.split()[-2] if item.startswith("✅") else item)
    assert lines == [f"Version 1: {', '.join(v1)}", f"Version 2: ✅ {published_relu_v2.variant} (preferred)"]

    verbose = subprocess.run([sys.executable, "-m", "kernels.cli", "versions", RELU, "-v"], env=hub_env,
                             capture_output=True, text=True)
    assert f"  {cuda}: built for backend cuda (CUDA 12.6)" in verbose.stdout

    missing = subprocess.run([sys.executable, "-m", "kernels.cli", "versions", "kernels-community/nope"], env=hub_env,
                             capture_output=True, text=True)
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("error: kernel repository 'kernels-community/nope' not found on ")
