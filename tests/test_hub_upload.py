"""``kernel-builder upload`` / ``build-and-upload`` against the test Hub (checked with git on the server)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from e2e_support import BuiltKernel, run_kernel_builder
from hub_server.helpers import hub_api, push, variant_files

from kernel_builder.upload import git_blob_sha


def _copy_project(built: BuiltKernel, tmp_path: Path) -> Path:
    target = tmp_path / "relu"
    shutil.copytree(built.kernel_dir, target)
    return target


def _log(hub_server, repo_id: str, ref: str, repo_type: str = "kernel") -> list[str]:
    return hub_server.git(repo_id, "log", "--format=%s", ref, repo_type=repo_type).splitlines()


def _tree(hub_server, repo_id: str, ref: str, repo_type: str = "kernel") -> dict[str, str]:
    """path -> blob sha at ``ref``."""
    out = hub_server.git(repo_id, "ls-tree", "-r", ref, repo_type=repo_type)
    return {line.split("\t", 1)[1]: line.split()[2] for line in out.splitlines()}


def _head(hub_server, repo_id: str, ref: str, repo_type: str = "kernel") -> str:
    return hub_server.git(repo_id, "rev-parse", ref, repo_type=repo_type).strip()


def _local_files(kernel_dir: Path, variant: str) -> dict[str, str]:
    files = {}
    for path in (kernel_dir / "build" / variant).rglob("*"):
        if path.is_file():
            files[f"build/{variant}/{path.relative_to(kernel_dir / 'build' / variant).as_posix()}"] = \
                git_blob_sha(path.read_bytes())
    files["benchmarks/benchmark.py"] = git_blob_sha((kernel_dir / "benchmarks" / "benchmark.py").read_bytes())
    return files


def _error_line(result) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_upload_publishes_variants_benchmarks_and_card(published_relu, hub_server) -> None:
    repo = published_relu.repo_id
    assert published_relu.upload_output.splitlines()[0] == f"{hub_server.url}/kernels/{repo}/tree/v1"
    # A kernel repository (not a model repository).
    assert hub_server.repo_dir(repo, "kernel").is_dir()
    assert not hub_server.repo_dir(repo, "model").exists()
    # v1 was created from main and got exactly one upload commit (the fixture added foreign variants after it).
    assert _log(hub_server, repo, "v1") == ["Variants built elsewhere", "Upload relu v1 build variants",
                                            "initial commit"]
    uploaded = _tree(hub_server, repo, "v1~1")
    expected = _local_files(published_relu.kernel_dir, published_relu.variant)
    assert uploaded == {".gitattributes": uploaded[".gitattributes"], **expected}
    # The filled card is README.md on main; builds never go to main.
    card = (published_relu.kernel_dir / "build" / "CARD.md").read_text()
    assert hub_server.git(repo, "show", "main:README.md", repo_type="kernel") == card
    assert "{{" not in card
    assert _log(hub_server, repo, "main") == ["Update README.md for relu v1", "initial commit"]
    assert not any(p.startswith("build/") for p in _tree(hub_server, repo, "main"))


def test_uploading_the_same_build_again_changes_nothing(published_relu, hub_server, hub_env) -> None:
    repo = published_relu.repo_id
    before = {ref: _head(hub_server, repo, ref) for ref in ("main", "v1")}
    hub_server.clear_requests()
    result = run_kernel_builder("upload", str(published_relu.kernel_dir), "--repo-id", repo, env=hub_env)
    assert f"{repo}@v1: no changes" in result.stderr
    assert f"{repo}@main: no changes" in result.stderr
    assert result.stdout.strip() == f"{hub_server.url}/kernels/{repo}/tree/v1"
    assert {ref: _head(hub_server, repo, ref) for ref in ("main", "v1")} == before
    # Nothing was committed, not even attempted: no commit (or preupload) request reached the server.
    assert not [r for r in hub_server.requests() if r.method == "POST" and ("/commit/" in r.path or "/preupload/" in r.path)]


def test_upload_replaces_the_variant_in_one_commit_and_keeps_foreign_variants(
    relu_build: BuiltKernel, hub_server, hub_env, tmp_path: Path
) -> None:
    repo = "kernels-test/relu-stale"
    kernel_dir = _copy_project(relu_build, tmp_path)
    variant_dir = kernel_dir / "build" / relu_build.variant_dir.name
    (variant_dir / "stale_helper.py").write_text("OLD = 1\n")
    (variant_dir / "old").mkdir()
    (variant_dir / "old" / "nested.py").write_text("OLD = 2\n")
    run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, env=hub_env)
    # Another machine adds its variant to the branch.
    push(hub_server, repo, variant_files("torch-universal", name="relu"), branch="v1", message="universal")

    (variant_dir / "stale_helper.py").unlink()
    shutil.rmtree(variant_dir / "old")
    with open(variant_dir / "layers.py", "a") as f:
        f.write("# changed\n")
    result = run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, "--output-json", env=hub_env)
    data = json.loads(result.stdout)
    prefix = f"build/{variant_dir.name}/"
    commit = data["commits"][0]
    assert commit["changed"] and commit["branch"] == "v1"
    assert commit["deleted"] == [f"{prefix}old/nested.py", f"{prefix}stale_helper.py"]
    assert commit["added"] == [f"{prefix}layers.py"]
    assert data["commits"][1] == {"branch": "main", "changed": False, "commit": _head(hub_server, repo, "main"),
                                  "commit_url": None, "pr_url": None, "created_branch": False,
                                  "added": [], "deleted": []}
    # One atomic commit on top of the other machine's commit.
    assert _head(hub_server, repo, "v1") == commit["commit"]
    assert _log(hub_server, repo, "v1")[:2] == ["Upload relu v1 build variants", "universal"]
    diff = hub_server.git(repo, "diff", "--name-status", "v1~1", "v1", repo_type="kernel").splitlines()
    assert sorted(diff) == sorted([f"D\t{prefix}old/nested.py", f"D\t{prefix}stale_helper.py",
                                   f"M\t{prefix}layers.py"])
    tree = _tree(hub_server, repo, "v1")
    assert "build/torch-universal/__init__.py" in tree
    assert {p: s for p, s in tree.items() if p.startswith(prefix)} == \
        {p: s for p, s in _local_files(kernel_dir, variant_dir.name).items() if p.startswith(prefix)}


def test_upload_refuses_builds_from_a_dirty_tree(relu_build: BuiltKernel, hub_server, hub_env,
                                                 tmp_path: Path) -> None:
    repo = "kernels-test/relu-dirty"
    kernel_dir = _copy_project(relu_build, tmp_path)
    metadata_file = kernel_dir / "build" / relu_build.variant_dir.name / "metadata.json"
    metadata = json.loads(metadata_file.read_text())
    metadata["id"] = "_relu_cpu_abc1234_dirty"
    metadata_file.write_text(json.dumps(metadata))
    hub_server.clear_requests()
    result = run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, env=hub_env, check=False)
    line = _error_line(result)
    assert line.startswith(f"error: build variant(s) {relu_build.variant_dir.name} were built from a dirty git tree")
    assert "--allow-dirty" in line
    assert not hub_server.repo_dir(repo, "kernel").exists()
    assert hub_server.requests() == []  # Refused before any request.

    result = run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, "--allow-dirty", "-q", env=hub_env)
    assert result.stdout.strip() == f"{hub_server.url}/kernels/{repo}/tree/v1"
    assert result.stderr == ""
    uploaded = hub_server.git(repo, "show", f"v1:build/{relu_build.variant_dir.name}/metadata.json",
                              repo_type="kernel")
    assert json.loads(uploaded)["id"] == "_relu_cpu_abc1234_dirty"


def test_upload_refuses_variants_that_disagree_on_the_version(relu_build: BuiltKernel, hub_server, hub_env,
                                                             tmp_path: Path) -> None:
    repo = "kernels-test/relu-mixed"
    kernel_dir = _copy_project(relu_build, tmp_path)
    other = kernel_dir / "build" / "torch-cpu"
    shutil.copytree(relu_build.variant_dir, other)
    metadata = json.loads((other / "metadata.json").read_text())
    metadata["version"] = 2
    (other / "metadata.json").write_text(json.dumps(metadata))

    line = _error_line(run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, env=hub_env, check=False))
    assert line == (f"error: the build variants disagree on the kernel version (version 1: "
                    f"{relu_build.variant_dir.name}; version 2: torch-cpu); rebuild them from the same build.toml, "
                    "or pass --allow-mixed-versions with --branch")
    line = _error_line(run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, "--allow-mixed-versions",
                                          env=hub_env, check=False))
    assert "--branch is required" in line
    assert not hub_server.repo_dir(repo, "kernel").exists()

    result = run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, "--allow-mixed-versions",
                                "--branch", "testing", env=hub_env)
    assert result.stdout.strip().endswith(f"/kernels/{repo}/tree/testing")
    assert "build/torch-cpu/metadata.json" in _tree(hub_server, repo, "testing")


def test_create_pr_leaves_the_branch_alone(relu_build: BuiltKernel, hub_server, hub_env, tmp_path: Path) -> None:
    repo = "kernels-test/relu-pr"
    kernel_dir = _copy_project(relu_build, tmp_path)
    run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, "-q", env=hub_env)
    v1 = _head(hub_server, repo, "v1")
    layers = kernel_dir / "build" / relu_build.variant_dir.name / "layers.py"
    layers.write_text(layers.read_text() + "# proposed change\n")

    result = run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, "--create-pr", "--output-json",
                                env=hub_env)
    data = json.loads(result.stdout)
    pr_url = f"{hub_server.url}/kernels/{repo}/discussions/1"
    assert data["url"] == pr_url
    assert data["commits"][0]["pr_url"] == pr_url
    assert data["commits"][0]["added"] == [f"build/{relu_build.variant_dir.name}/layers.py"]
    assert data["commits"][1]["changed"] is False  # The card did not change: no pull request for main.
    assert _head(hub_server, repo, "v1") == v1
    assert _head(hub_server, repo, "refs/pr/1") == data["commits"][0]["commit"]
    assert hub_server.git(repo, "rev-parse", "refs/pr/1~1", repo_type="kernel").strip() == v1
    assert hub_server.git(repo, "show", f"refs/pr/1:build/{relu_build.variant_dir.name}/layers.py",
                          repo_type="kernel").endswith("# proposed change\n")


def test_output_json_describes_the_upload(relu_build: BuiltKernel, hub_server, hub_env, tmp_path: Path) -> None:
    repo = "kernels-test/relu-json"
    kernel_dir = _copy_project(relu_build, tmp_path)
    result = run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, "--output-json", env=hub_env)
    data = json.loads(result.stdout)  # Standard output is only the JSON document.
    assert result.stderr == ""
    v1, main = _head(hub_server, repo, "v1"), _head(hub_server, repo, "main")
    assert data["repo_id"] == repo and data["repo_type"] == "kernel" and data["branch"] == "v1"
    assert data["version"] == 1 and data["variants"] == [relu_build.variant_dir.name] and data["changed"] is True
    assert data["repo_url"] == f"{hub_server.url}/kernels/{repo}"
    assert data["url"] == f"{hub_server.url}/kernels/{repo}/tree/v1"
    first, second = data["commits"]
    assert (first["branch"], first["commit"], first["created_branch"]) == ("v1", v1, True)
    assert first["commit_url"] == f"{hub_server.url}/kernels/{repo}/commit/{v1}"
    assert sorted(first["added"]) == sorted(_local_files(kernel_dir, relu_build.variant_dir.name))
    assert (second["branch"], second["commit"], second["added"]) == ("main", main, ["README.md"])


def test_model_repo_type_and_private_repositories(relu_build: BuiltKernel, hub_server, hub_env,
                                                  tmp_path: Path) -> None:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    repo = "kernels-test/relu-private-model"
    kernel_dir = _copy_project(relu_build, tmp_path)
    result = run_kernel_builder("upload", str(kernel_dir), "--repo-id", repo, "--repo-type", "model", "--private",
                                "-q", env=hub_env)
    assert result.stdout.strip() == f"{hub_server.url}/{repo}/tree/v1"
    assert hub_server.repo_dir(repo, "model").is_dir() and not hub_server.repo_dir(repo, "kernel").exists()
    assert hub_server.git(repo, "config", "hub.private", repo_type="model").strip() == "true"
    assert hub_api(hub_server).repo_info(repo, revision="v1").sha == _head(hub_server, repo, "v1", "model")
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub_server.url, token=False).repo_info(repo)


def test_upload_errors_are_one_line(relu_build: BuiltKernel, hub_server, hub_env, tmp_path: Path) -> None:
    kernel_dir = _copy_project(relu_build, tmp_path)
    build = kernel_dir / "build"
    hub_server.clear_requests()

    # No repository id: none given and none in build.toml.
    toml = kernel_dir / "build.toml"
    original = toml.read_text()
    toml.write_text(original.replace('[general.hub]\nrepo-id = "kernels-test/relu"\n', ""))
    line = _error_line(run_kernel_builder("upload", str(kernel_dir), env=hub_env, check=False))
    assert line == f"error: {toml}: general.hub.repo-id is not set; set it or pass --repo-id"
    toml.write_text(original)

    line = _error_line(run_kernel_builder("upload", str(kernel_dir), "--repo-id", "not-a-repo-id", env=hub_env,
                                          check=False))
    assert line == "error: --repo-id: expected a Hub repository id like 'org/name', got 'not-a-repo-id'"

    # No build at all.
    shutil.move(build, tmp_path / "saved-build")
    line = _error_line(run_kernel_builder("upload", str(kernel_dir), env=hub_env, check=False))
    assert line == (f"error: {kernel_dir}: no build/ directory with build variants; run `kernel-builder build` "
                    "first")
    # A build/ directory without variants.
    build.mkdir()
    (build / "CARD.md").write_text("card\n")
    line = _error_line(run_kernel_builder("upload", str(kernel_dir), env=hub_env, check=False))
    assert line.startswith(f"error: {build}: no build variants to upload")
    shutil.rmtree(build)
    shutil.move(tmp_path / "saved-build", build)

    # A variant with a broken metadata.json.
    metadata = build / relu_build.variant_dir.name / "metadata.json"
    saved = metadata.read_text()
    metadata.write_text("{not json")
    line = _error_line(run_kernel_builder("upload", str(kernel_dir), env=hub_env, check=False))
    assert line.startswith(f"error: {metadata}: invalid JSON")
    metadata.write_text(saved)
    assert hub_server.requests() == []  # None of the above reached the Hub.

    # Not logged in: the Hub refuses, and the error says how to log in.
    anonymous = {k: v for k, v in hub_env.items() if k != "HF_TOKEN"}
    line = _error_line(run_kernel_builder("upload", str(kernel_dir), "--repo-id", "kernels-test/relu-anon",
                                          env=anonymous, check=False))
    assert line.startswith("error: creating kernels-test/relu-anon (kernel repository): the Hub refused the request "
                           "(401")
    assert "HF_TOKEN" in line
    assert not hub_server.repo_dir("kernels-test/relu-anon", "kernel").exists()


PYTHON_ONLY_BUILD_TOML = """\
[general]
name = "greet"
version = 3
license = "MIT"
backends = ["cpu"]

[general.hub]
repo-id = "kernels-test/greet"
"""


def test_build_and_upload_a_python_only_kernel(hub_server, hub_env, build_cache: dict[str, str],
                                              tmp_path: Path) -> None:
    from hub_server.helpers import last_json, run_python

    project = tmp_path / "greet"
    (project / "torch-ext" / "greet").mkdir(parents=True)
    (project / "build.toml").write_text(PYTHON_ONLY_BUILD_TOML)
    (project / "torch-ext" / "greet" / "__init__.py").write_text(
        "def greet():\n    return 'hello from the Hub'\n\n__all__ = ['greet']\n")
    env = {**hub_env, "KERNEL_BUILDER_CACHE": build_cache["KERNEL_BUILDER_CACHE"]}
    result = run_kernel_builder("build-and-upload", str(project), "--unique-id", "abc1234", "--output-json",
                                env=env)
    data = json.loads(result.stdout)  # Build messages went to standard error.
    assert "Built variant torch-cpu" in result.stderr
    assert (data["repo_id"], data["branch"], data["variants"]) == ("kernels-test/greet", "v3", ["torch-cpu"])
    assert "build/torch-cpu/metadata.json" in _tree(hub_server, "kernels-test/greet", "v3")

    loaded = last_json(run_python("""
        import json, kernels
        greet = kernels.get_kernel("kernels-test/greet", version=3)
        info = [k.repo_info for k in kernels.get_loaded_kernels() if k.module is greet][0]
        print(json.dumps([greet.greet(), info.repo_id, info.revision]))
    """, hub_env))
    assert loaded == ["hello from the Hub", "kernels-test/greet", data["commits"][0]["commit"]]


def test_build_and_upload_checks_the_repository_before_building(hub_env, tmp_path: Path) -> None:
    project = tmp_path / "greet"
    (project / "torch-ext" / "greet").mkdir(parents=True)
    (project / "build.toml").write_text(PYTHON_ONLY_BUILD_TOML.replace('[general.hub]\nrepo-id = "kernels-test/greet"\n', ""))
    (project / "torch-ext" / "greet" / "__init__.py").write_text("")
    line = _error_line(run_kernel_builder("build-and-upload", str(project), env=hub_env, check=False))
    assert line == f"error: {project / 'build.toml'}: general.hub.repo-id is not set; set it or pass --repo-id"
    assert not (project / "build").exists()
