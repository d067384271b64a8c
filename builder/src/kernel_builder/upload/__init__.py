"""Publish a kernel's build variants to the Hugging Face Hub.

What is uploaded, and where:

* every build variant in ``build/`` (``build/<variant>/**``) and the kernel's
  ``benchmarks/benchmark*.py`` go to the version branch (``v<version>`` from
  the variants' ``metadata.json`` unless ``--branch`` or ``general.hub.branch``
  says otherwise). The branch is created from ``main`` when it is missing.
* the card that ``kernel-builder build`` filled (``build/CARD.md``) goes to
  ``main`` as ``README.md``.

Each branch receives at most one commit, made with a single ``create_commit``
call that adds the new and changed files and deletes the files of the uploaded
variants that the build no longer has, so a reader never sees a half-updated
variant. The commit is made against the branch head we compared with
(``parent_commit``): a concurrent upload makes ours fail rather than mix.
Files are compared by their git blob sha, so an unchanged build makes no
commit ("no changes"). Variants on the branch that are not in ``build/``
(built elsewhere, e.g. on another machine) are left alone.

Uploads are refused, before any request, when the variants disagree on the
kernel version or were built from a dirty git tree (their ops id ends in
``_dirty``), unless ``allow_mixed_versions`` / ``allow_dirty`` are given.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import quote

from kernels.metadata import Metadata, MetadataError
from kernels.variants import is_valid_variant_name

from ..config import BUILD_TOML, is_repo_id, load_config
from ..errors import KernelBuilderError

BUILD_DIR = "build"
BUILT_CARD = "CARD.md"
REPO_TYPES = ("kernel", "model")
DIRTY_SUFFIX = "_dirty"


@dataclass(frozen=True)
class LocalVariant:
    name: str
    path: Path
    metadata: Metadata


@dataclass(frozen=True)
class UploadPlan:
    """Everything to upload, decided from local files only."""

    repo_id: str
    repo_type: str
    branch: str
    version: int
    variants: tuple[LocalVariant, ...]
    branch_files: dict[str, Path]  # path in the repository -> local file
    mirrored_prefixes: tuple[str, ...]  # remote files under these that are not local are deleted
    mirrored_patterns: tuple[str, ...]  # same, for glob patterns (benchmarks)
    card: Optional[Path]


@dataclass
class BranchResult:
    branch: str
    changed: bool
    commit: str  # the new commit, or the branch head when nothing changed
    commit_url: Optional[str] = None
    pr_url: Optional[str] = None
    created_branch: bool = False
    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


@dataclass
class UploadResult:
    repo_id: str
    repo_type: str
    repo_url: str
    url: str  # the version branch on the Hub (or the pull request)
    branch: str
    version: int
    variants: list[str]
    commits: list[BranchResult]

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.commits)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["changed"] = self.changed
        return data


# ---------------------------------------------------------------------------
# Local side
# ---------------------------------------------------------------------------


def git_blob_sha(data: bytes) -> str:
    """The git blob id of ``data`` (what the Hub reports as a file's ``oid``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def git_blob_sha_of_file(path: Path) -> str:
    """:func:`git_blob_sha` of a file's contents, read in chunks (builds can be large)."""
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _project_and_build_dir(kernel_dir: Path) -> tuple[Path, Path]:
    """``(project dir, build dir)``: KERNEL_DIR may be the project or its ``build/`` directory."""
    if not kernel_dir.is_dir():
        raise KernelBuilderError(f"{kernel_dir}: directory does not exist")
    build = kernel_dir / BUILD_DIR
    if build.is_dir():
        return kernel_dir, build
    if any(is_valid_variant_name(p.name) for p in kernel_dir.iterdir() if p.is_dir()):
        return kernel_dir.parent, kernel_dir
    raise KernelBuilderError(
        f"{kernel_dir}: no {BUILD_DIR}/ directory with build variants; run `kernel-builder build` first"
    )


def collect_variants(build_dir: Path) -> list[LocalVariant]:
    """The finished build variants in ``build_dir`` (temporary directories are ignored)."""
    variants = []
    for path in sorted(build_dir.iterdir()):
        if not path.is_dir() or path.name.startswith(".") or not is_valid_variant_name(path.name):
            continue
        if not (path / "__init__.py").is_file():
            raise KernelBuilderError(f"{path}: not a complete build variant (no __init__.py)")
        try:
            metadata = Metadata.load(path / "metadata.json")
        except MetadataError as e:
            raise KernelBuilderError(str(e)) from None
        variants.append(LocalVariant(path.name, path, metadata))
    if not variants:
        raise KernelBuilderError(
            f"{build_dir}: no build variants to upload (expected directories like "
            "torch213-cxx11-cpu-x86_64-linux); run `kernel-builder build` first"
        )
    return variants


def _variant_files(variant: LocalVariant) -> dict[str, Path]:
    files = {}
    for path in sorted(variant.path.rglob("*")):
        rel = path.relative_to(variant.path)
        if "__pycache__" in rel.parts or path.suffix in (".pyc", ".pyo") or not path.is_file():
            continue
        files[f"{BUILD_DIR}/{variant.name}/{rel.as_posix()}"] = path
    return files


def check_variants(variants: list[LocalVariant], allow_dirty: bool = False,
                   allow_mixed_versions: bool = False, branch_given: bool = False) -> int:
    """Refuse inconsistent or dirty builds; returns the kernel version."""
    versions: dict[int, list[str]] = {}
    for variant in variants:
        versions.setdefault(variant.metadata.version, []).append(variant.name)
    if len(versions) > 1:
        detail = "; ".join(f"version {v}: {', '.join(names)}" for v, names in sorted(versions.items()))
        if not allow_mixed_versions:
            raise KernelBuilderError(
                f"the build variants disagree on the kernel version ({detail}); rebuild them from the same "
                "build.toml, or pass --allow-mixed-versions with --branch"
            )
        if not branch_given:
            raise KernelBuilderError(
                f"the build variants disagree on the kernel version ({detail}): --branch is required to say "
                "where they go"
            )
    dirty = [v.name for v in variants if v.metadata.id.endswith(DIRTY_SUFFIX)]
    if dirty and not allow_dirty:
        raise KernelBuilderError(
            f"build variant(s) {', '.join(dirty)} were built from a dirty git tree (ops id ends in "
            f"'{DIRTY_SUFFIX}'); commit your changes and rebuild, or pass --allow-dirty"
        )
    return max(versions)


def plan_upload(kernel_dir: Path, repo_id: Optional[str] = None, branch: Optional[str] = None,
                repo_type: str = "kernel", allow_dirty: bool = False,
                allow_mixed_versions: bool = False) -> UploadPlan:
    """Decide what goes where, from the files in ``kernel_dir`` (no network)."""
    if repo_type not in REPO_TYPES:
        raise KernelBuilderError(f"--repo-type: expected one of {', '.join(REPO_TYPES)}, got {repo_type!r}")
    kernel_dir = Path(kernel_dir)
    project, build_dir = _project_and_build_dir(kernel_dir)
    variants = collect_variants(build_dir)
    version = check_variants(variants, allow_dirty, allow_mixed_versions, branch is not None)

    config_branch = None
    if repo_id is None or (branch is None and (project / BUILD_TOML).is_file()):
        if not (project / BUILD_TOML).is_file():
            raise KernelBuilderError(
                f"no repository to upload to: pass --repo-id, or set general.hub.repo-id in {project / BUILD_TOML}"
            )
        config = load_config(project)
        if repo_id is None:
            repo_id = config.general.hub.repo_id
            if repo_id is None:
                raise KernelBuilderError(
                    f"{project / BUILD_TOML}: general.hub.repo-id is not set; set it or pass --repo-id"
                )
        config_branch = config.general.hub.branch
    if not is_repo_id(repo_id):
        raise KernelBuilderError(f"--repo-id: expected a Hub repository id like 'org/name', got {repo_id!r}")
    branch = branch or config_branch or f"v{version}"

    files: dict[str, Path] = {}
    for variant in variants:
        files.update(_variant_files(variant))
    benchmarks = sorted((project / "benchmarks").glob("benchmark*.py"))
    for path in benchmarks:
        files[f"benchmarks/{path.name}"] = path
    card = build_dir / BUILT_CARD
    return UploadPlan(
        repo_id=repo_id,
        repo_type=repo_type,
        branch=branch,
        version=version,
        variants=tuple(variants),
        branch_files=files,
        mirrored_prefixes=tuple(f"{BUILD_DIR}/{v.name}/" for v in variants),
        mirrored_patterns=("benchmarks/benchmark*.py",) if benchmarks else (),
        card=card if card.is_file() else None,
    )


# ---------------------------------------------------------------------------
# Hub side
# ---------------------------------------------------------------------------


def _hub_error(what: str, error: Exception) -> KernelBuilderError:
    from huggingface_hub.errors import HfHubHTTPError

    message = " ".join(str(error).split())
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        server = error.server_message or ""
        detail = " ".join(server.split()) or message
        if status == 401:
            return KernelBuilderError(
                f"{what}: the Hub refused the request (401: {detail}); log in with `hf auth login` or set HF_TOKEN"
            )
        if status == 403:
            return KernelBuilderError(f"{what}: not allowed (403: {detail})")
        if status == 412:
            return KernelBuilderError(f"{what}: the branch changed during the upload (412: {detail}); try again")
        return KernelBuilderError(f"{what}: the Hub answered {status}: {detail}")
    return KernelBuilderError(f"{what}: {message or type(error).__name__}")


def _remote_files(api: Any, plan: UploadPlan, revision: str) -> dict[str, str]:
    from huggingface_hub import RepoFile

    entries = api.list_repo_tree(plan.repo_id, revision=revision, repo_type=plan.repo_type, recursive=True)
    return {e.path: e.blob_id for e in entries if isinstance(e, RepoFile)}


def _is_mirrored(plan: UploadPlan, path: str) -> bool:
    from fnmatch import fnmatchcase

    return path.startswith(plan.mirrored_prefixes) or any(fnmatchcase(path, p) for p in plan.mirrored_patterns)


def _commit_branch(api: Any, plan: UploadPlan, branch: str, head: str, files: dict[str, Path],
                   mirror: bool, message: str, description: str, create_pr: bool) -> BranchResult:
    """One atomic commit on ``branch`` (or a pull request against it) making it match ``files``."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    remote = _remote_files(api, plan, head)
    deletions = sorted(p for p in remote if mirror and _is_mirrored(plan, p) and p not in files)
    additions = [(path, local) for path, local in sorted(files.items())
                 if remote.get(path) != git_blob_sha_of_file(local)]
    if not deletions and not additions:
        return BranchResult(branch=branch, changed=False, commit=head)
    operations: list[Any] = [CommitOperationDelete(path_in_repo=p) for p in deletions]
    # Paths, not bytes: huggingface_hub streams the files (and sends large ones through LFS/Xet on the Hub).
    operations += [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(local)) for p, local in additions]
    info = api.create_commit(
        plan.repo_id,
        operations,
        commit_message=message,
        commit_description=description,
        repo_type=plan.repo_type,
        revision=branch,
        parent_commit=head,
        create_pr=create_pr,
    )
    if info.oid == head:  # The client found nothing to change after all.
        return BranchResult(branch=branch, changed=False, commit=head)
    return BranchResult(
        branch=branch,
        changed=True,
        commit=info.oid,
        commit_url=info.commit_url,
        pr_url=info.pr_url,
        added=[p for p, _ in additions],
        deleted=deletions,
    )


def upload(plan: UploadPlan, private: bool = False, create_pr: bool = False,
           log: Callable[[str], None] = lambda line: None) -> UploadResult:
    """Create the repository and branch if needed and commit the plan (at most one commit per branch)."""
    from huggingface_hub import HfApi

    from .. import __version__

    api = HfApi(library_name="kernel-builder", library_version=__version__)
    target = f"{plan.repo_id} ({plan.repo_type} repository)"
    try:
        repo_url = str(api.create_repo(plan.repo_id, repo_type=plan.repo_type, private=private or None,
                                       exist_ok=True))
    except KernelBuilderError:
        raise
    except Exception as e:  # noqa: BLE001 - network and Hub errors become one line
        raise _hub_error(f"creating {target}", e) from None

    names = ", ".join(v.name for v in plan.variants)
    message = f"Upload {plan.variants[0].metadata.name} v{plan.version} build variants"
    description = f"Variants: {names}\n\nUploaded with kernel-builder {__version__}."
    created_branch = False
    results = []
    try:
        refs = api.list_repo_refs(plan.repo_id, repo_type=plan.repo_type)
        heads = {b.name: b.target_commit for b in refs.branches}
        if plan.branch not in heads:
            log(f"Creating branch {plan.branch}")
            api.create_branch(plan.repo_id, branch=plan.branch, repo_type=plan.repo_type)
            created_branch = True
            refs = api.list_repo_refs(plan.repo_id, repo_type=plan.repo_type)
            heads = {b.name: b.target_commit for b in refs.branches}
        files = dict(plan.branch_files)
        if plan.card is not None and plan.branch == "main":
            files["README.md"] = plan.card
        log(f"Uploading {len(plan.variants)} variant(s) to {plan.repo_id}@{plan.branch}: {names}")
        result = _commit_branch(api, plan, plan.branch, heads[plan.branch], files, True,
                                message, description, create_pr)
        result.created_branch = created_branch
        results.append(result)
    except BaseException as e:
        # A version branch we created must not stay behind without the build.
        if created_branch:
            _delete_branch_quietly(api, plan)
        if isinstance(e, (KernelBuilderError, KeyboardInterrupt, SystemExit)) or not isinstance(e, Exception):
            raise
        raise _hub_error(f"uploading to {target} branch {plan.branch}", e) from None

    if plan.card is not None and plan.branch != "main":
        try:
            main_head = heads.get("main")
            if main_head is None:
                raise KernelBuilderError(f"{target} has no main branch to put README.md on")
            log("Updating README.md on main")
            results.append(_commit_branch(
                api, plan, "main", main_head, {"README.md": plan.card}, False,
                f"Update README.md for {plan.variants[0].metadata.name} v{plan.version}",
                f"Kernel card filled by kernel-builder {__version__}.", create_pr,
            ))
        except KernelBuilderError:
            raise
        except Exception as e:  # noqa: BLE001 - network and Hub errors become one line
            raise _hub_error(f"uploading README.md to {target} branch main", e) from None

    main_result = results[0]
    url = main_result.pr_url or f"{repo_url}/tree/{quote(plan.branch, safe='')}"
    return UploadResult(
        repo_id=plan.repo_id,
        repo_type=plan.repo_type,
        repo_url=repo_url,
        url=url,
        branch=plan.branch,
        version=plan.version,
        variants=[v.name for v in plan.variants],
        commits=results,
    )


def _delete_branch_quietly(api: Any, plan: UploadPlan) -> None:
    """Undo a branch we created when its first commit failed (so no empty version branch is left)."""
    try:
        api.delete_branch(plan.repo_id, branch=plan.branch, repo_type=plan.repo_type)
    except Exception:  # noqa: BLE001 - best effort; the original error is what matters
        pass


def describe(result: UploadResult) -> list[str]:
    """Human-readable lines for the CLI."""
    lines = []
    for commit in result.commits:
        where = f"{result.repo_id}@{commit.branch}"
        if not commit.changed:
            lines.append(f"{where}: no changes (already at {commit.commit[:12]})")
        elif commit.pr_url:
            lines.append(f"{where}: opened pull request {commit.pr_url} "
                         f"({len(commit.added)} file(s) added or changed, {len(commit.deleted)} deleted)")
        else:
            lines.append(f"{where}: committed {commit.commit[:12]} "
                         f"({len(commit.added)} file(s) added or changed, {len(commit.deleted)} deleted)")
    return lines


def result_json(result: UploadResult) -> str:
    return json.dumps(result.to_json(), indent=2)
