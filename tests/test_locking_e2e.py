"""``kernels lock`` / ``kernels download`` / ``load_kernel`` against the test Hub.

Client code runs in fresh subprocesses (HF_ENDPOINT is read at import time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hub_server.helpers import last_json, run_python

from kernels.locking import git_blob_oid, git_lfs_concat, write_egg_info_lockfile

RELU = "kernels-community/relu"

PYPROJECT = """\
[build-system]
requires = ["kernels", "setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "myproject"
version = "0.1"

[tool.kernels.dependencies]
"kernels-community/relu" = 1
"""

LOAD = """
    import json, torch, myproject
    relu = myproject.load()
    x = torch.randn(1031, 7)
    assert torch.equal(relu.relu(x), torch.relu(x))
    import kernels
    [loaded] = [k for k in kernels.get_loaded_kernels() if k.module is relu]
    print(json.dumps({"file": relu.__file__, "revision": loaded.repo_info.revision}))
"""


def _cli(args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "kernels.cli", *args], env=env, capture_output=True, text=True,
                            timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"kernels {' '.join(args)} exited with {result.returncode}:\n{result.stderr}")
    return result


def _project(tmp_path: Path, pyproject: str = PYPROJECT) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(pyproject)
    return project


def _install(site: Path, lock_text: str, call: str = 'kernels.load_kernel("kernels-community/relu")') -> None:
    """A minimal installed distribution ``myproject`` whose dist-info carries ``kernels.lock``."""
    (site / "myproject").mkdir(parents=True)
    (site / "myproject" / "__init__.py").write_text(f"import kernels\n\ndef load():\n    return {call}\n")
    info = site / "myproject-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myproject\nVersion: 0.1\n")
    (info / "top_level.txt").write_text("myproject\n")
    (info / "kernels.lock").write_text(lock_text)


def _offline(env: dict[str, str], site: Path) -> dict[str, str]:
    offline = {k: v for k, v in env.items() if k != "HF_ENDPOINT"}
    offline.update(HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")])))
    return offline


def _expected_hash(hub_server, ref: str, variant: str) -> str:
    out = hub_server.git(RELU, "ls-tree", "-r", ref, repo_type="kernel")
    prefix = f"build/{variant}/"
    pairs = []
    for line in out.splitlines():
        meta, path = line.split("\t", 1)
        if path.startswith(prefix):
            pairs.append((path[len(prefix):], meta.split()[2]))
    return git_lfs_concat(pairs)


def test_git_lfs_concat_definition() -> None:
    assert git_blob_oid(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    import hashlib

    expected = hashlib.sha256(b"a.py" + b"1" * 40 + b"b/c.so" + b"2" * 64).hexdigest()
    assert git_lfs_concat([("b/c.so", "2" * 64), ("a.py", "1" * 40)]) == f"sha256-{expected}"


def test_lock_download_and_load_offline(published_relu, hub_server, hub_env, tmp_path: Path) -> None:
    env = {**hub_env, "KERNELS_CACHE": str(tmp_path / "cache")}
    project = _project(tmp_path)
    out = _cli(["lock", str(project)], env).stdout
    assert f"Locked {RELU} at {published_relu.commit}" in out
    text = (project / "kernels.lock").read_text()
    [entry] = json.loads(text)
    assert entry["repo_id"] == RELU and entry["sha"] == published_relu.commit
    assert sorted(entry["variants"]) == sorted([published_relu.variant, *published_relu.foreign_variants])
    for variant, lock in entry["variants"].items():
        assert lock == {"hash": _expected_hash(hub_server, published_relu.commit, variant),
                        "hash_type": "git_lfs_concat"}
    _cli(["lock", str(project)], env)
    assert (project / "kernels.lock").read_text() == text  # Stable.

    # Before `kernels download`, load_kernel refuses (offline, nothing cached).
    site = tmp_path / "site"
    _install(site, text)
    result = run_python(LOAD, _offline(env, site), check=False)
    assert result.returncode != 0 and "KernelNotPreDownloadedError" in result.stderr
    assert "kernels download" in result.stderr

    out = _cli(["download", str(project)], env).stdout
    assert f"Downloaded {RELU}@{published_relu.commit}: {published_relu.variant} (hash verified)" in out
    snapshot = Path(env["KERNELS_CACHE"]) / "kernels--kernels-community--relu" / "snapshots" / published_relu.commit
    assert sorted(p.name for p in (snapshot / "build").iterdir()) == [published_relu.variant]

    loaded = last_json(run_python(LOAD, _offline(env, site)))
    assert loaded["revision"] == published_relu.commit
    assert Path(loaded["file"]) == snapshot / "build" / published_relu.variant / "__init__.py"

    # An explicit lock file works without package metadata, too.
    explicit = last_json(run_python(f"""
        import json, kernels
        relu = kernels.load_kernel({RELU!r}, lockfile={str(project / 'kernels.lock')!r})
        print(json.dumps(relu.__file__))
    """, _offline(env, tmp_path / "empty")))
    assert Path(explicit) == Path(loaded["file"])

    # --all-variants fetches and verifies every locked variant.
    out = _cli(["download", str(project), "--all-variants"], env).stdout
    assert "hash verified" in out
    assert sorted(p.name for p in (snapshot / "build").iterdir()) == sorted(entry["variants"])


def test_tampered_cache_is_caught(published_relu, hub_env, tmp_path: Path) -> None:
    env = {**hub_env, "KERNELS_CACHE": str(tmp_path / "cache")}
    project = _project(tmp_path)
    _cli(["lock", str(project)], env)
    _cli(["download", str(project)], env)
    variant_dir = (Path(env["KERNELS_CACHE"]) / "kernels--kernels-community--relu" / "snapshots"
                   / published_relu.commit / "build" / published_relu.variant)
    blob = (variant_dir / "__init__.py").resolve()
    os.chmod(blob, 0o644)
    blob.write_text(blob.read_text() + "\nprint('tampered')\n")

    site = tmp_path / "site"
    _install(site, (project / "kernels.lock").read_text())
    result = run_python(LOAD, _offline(env, site), check=False)
    assert result.returncode != 0 and "LockHashMismatchError" in result.stderr and "tampered" not in result.stdout

    _cli(["download", str(project)], env)  # The deleted variant is fetched again...
    blob = (variant_dir / "__init__.py").resolve()
    os.chmod(blob, 0o644)
    blob.write_text("raise SystemExit('tampered')\n")
    result = _cli(["download", str(project)], env, check=False)  # ...and a tampered cache fails the download.
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "does not match its hash in kernels.lock" in line
    assert "the cached files were deleted" in line
    assert not variant_dir.exists() and not blob.exists()

    _cli(["download", str(project)], env)
    assert last_json(run_python(LOAD, _offline(env, site)))["revision"] == published_relu.commit


KERNELIZE_WITH_LOCKED_FUNC = """
import kernels, torch
from torch import nn


@kernels.use_kernel_forward_from_hub("Relu")
class Relu(nn.Module):
    def forward(self, x, out=None):  # The kernel's `relu(x, out=None)` signature.
        return torch.relu(x) if out is None else out.copy_(torch.relu(x))


def load():
    model = nn.Sequential(nn.Identity(), Relu())
    repo = kernels.LockedFuncRepository("kernels-community/relu", func_name="relu")
    with kernels.use_kernel_mapping({"Relu": {"cpu": repo}}, inherit_mapping=False):
        kernels.kernelize(model, mode=kernels.Mode.INFERENCE, device="cpu", use_fallback=False)
    return model
"""

RUN_KERNELIZED = """
    import json, torch, kernels, myproject
    model = myproject.load()
    x = torch.randn(513, 9)
    assert torch.equal(model(x), torch.relu(x))
    print(json.dumps([k.repo_info.revision for k in kernels.get_loaded_kernels()]))
"""


def test_locked_repositories_load_through_the_verified_lock(published_relu, hub_env, tmp_path: Path) -> None:
    """kernelize with a LockedFuncRepository: the lock in the package metadata, the hash checked, no network."""
    env = {**hub_env, "KERNELS_CACHE": str(tmp_path / "cache")}
    project = _project(tmp_path)
    _cli(["lock", str(project)], env)
    site = tmp_path / "site"
    _install(site, (project / "kernels.lock").read_text())
    (site / "myproject" / "__init__.py").write_text(KERNELIZE_WITH_LOCKED_FUNC)

    _cli(["download", str(project)], env)
    revisions = last_json(run_python(RUN_KERNELIZED, _offline(env, site)))
    assert revisions == [published_relu.commit]

    variant_dir = (Path(env["KERNELS_CACHE"]) / "kernels--kernels-community--relu" / "snapshots"
                   / published_relu.commit / "build" / published_relu.variant)
    blob = (variant_dir / "__init__.py").resolve()
    os.chmod(blob, 0o644)
    blob.write_text(blob.read_text() + "\nprint('tampered')\n")
    result = run_python(RUN_KERNELIZED, _offline(env, site), check=False)
    assert result.returncode != 0 and "LockHashMismatchError" in result.stderr
    assert "tampered" not in result.stdout


def test_bad_inputs_give_one_line_errors(published_relu, hub_env, tmp_path: Path) -> None:
    cases = {
        "no-pyproject": (None, "pyproject.toml not found"),
        "no-table": ('[project]\nname = "x"\n', "has no [tool.kernels.dependencies] table"),
        "unknown-repo": ('[tool.kernels.dependencies]\n"kernels-community/nope" = 1\n', "not found"),
        "unknown-version": ('[tool.kernels.dependencies]\n"kernels-community/relu" = 99\n', "has no version 99"),
        "bad-version": ('[tool.kernels.dependencies]\n"kernels-community/relu" = "1"\n', "must be a major version"),
    }
    for name, (pyproject, message) in cases.items():
        project = tmp_path / name
        project.mkdir()
        if pyproject is not None:
            (project / "pyproject.toml").write_text(pyproject)
        result = _cli(["lock", str(project)], hub_env, check=False)
        assert result.returncode == 1, name
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: ") and message in line, (name, line)
        assert not (project / "kernels.lock").exists()
    result = _cli(["download", str(tmp_path / "no-table")], hub_env, check=False)
    [line] = result.stderr.strip().splitlines()
    assert result.returncode == 1 and "kernels.lock not found: run `kernels lock" in line

    # Not locked: neither in the caller's metadata nor in an explicit lock file.
    site = tmp_path / "site"
    _install(site, "[]\n", call='kernels.get_locked_kernel("kernels-community/relu")')
    result = run_python("import myproject; myproject.load()", _offline(hub_env, site), check=False)
    assert "is not locked: no entry in the kernels.lock of distribution(s) myproject" in result.stderr


def test_egg_info_writer_carries_the_lock_file(tmp_path: Path, monkeypatch) -> None:
    written = {}

    class Cmd:
        def write_or_delete_file(self, what: str, filename: str, data: str) -> None:
            written[filename] = data

    monkeypatch.chdir(tmp_path)
    write_egg_info_lockfile(Cmd(), "kernels.lock", "x.egg-info/kernels.lock")
    assert written == {"x.egg-info/kernels.lock": ""}  # No lock file: nothing (a stale copy is deleted).
    (tmp_path / "kernels.lock").write_text('[{"repo_id": "a/b", "sha": "c", "variants": {}}]\n')
    write_egg_info_lockfile(Cmd(), "kernels.lock", "x.egg-info/kernels.lock")
    assert written["x.egg-info/kernels.lock"] == (tmp_path / "kernels.lock").read_text()
    pyproject = (Path(__file__).parents[1] / "python" / "pyproject.toml").read_text()
    assert '"kernels.lock" = "kernels.locking:write_egg_info_lockfile"' in pyproject


def test_pip_install_of_a_setuptools_project_carries_the_lock_file(tmp_path: Path) -> None:
    import tomllib

    # The entry point exactly as python/pyproject.toml declares it, registered through a stand-in
    # dist-info (the installed kernels' metadata predates it in an editable install made earlier).
    pyproject = tomllib.loads((Path(__file__).parents[1] / "python" / "pyproject.toml").read_text())
    writers = pyproject["project"]["entry-points"]["egg_info.writers"]
    hooks = tmp_path / "hooks"
    info = hooks / "kernels_lock_hook-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kernels-lock-hook\nVersion: 0\n")
    (info / "entry_points.txt").write_text(
        "[egg_info.writers]\n" + "".join(f"{name} = {target}\n" for name, target in writers.items()))
    project = _project(tmp_path, PYPROJECT + '\n[tool.setuptools]\npackages = ["myproject"]\n')
    (project / "myproject").mkdir()
    (project / "myproject" / "__init__.py").write_text("")
    lock = '[{"repo_id": "kernels-community/relu", "sha": "' + "a" * 40 + '", "variants": {}}]\n'
    (project / "kernels.lock").write_text(lock)
    site = tmp_path / "site"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")]))}
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "--no-index",
                    "--target", str(site), str(project)], env=env, check=True, capture_output=True, timeout=300)
    [dist_info] = site.glob("myproject-0.1.dist-info")
    assert (dist_info / "kernels.lock").read_text() == lock
