"""``kernels check``: is a kernel published on the Hub compliant?

A compliant kernel version is a ``kernel``-type repository whose ``vN``
branch holds, for every (system, backend) it provides at least one variant
for, every variant of the required build-variant list
(``lib/build-variants.json``), and each variant has an ``__init__.py``, a
valid ``metadata.json`` (with ``version`` N) and the compatibility package.
Python-only variants (``torch-<backend>``, ``torch-universal``) cover their
backend on every system by themselves.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .hub.ids import is_valid_repo_id
from .metadata import Metadata, MetadataError
from .variants import parse_variant_or_none, required_variants

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import HfApi


class KernelCheckError(LookupError):
    """The check cannot run: the repository or the version does not exist."""


@dataclass
class Coverage:
    system: str
    backend: str
    required: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass
class VariantCheck:
    name: str
    problems: list[str] = field(default_factory=list)


@dataclass
class RepoCheck:
    repo_id: str
    version: int
    repo_type: str = "kernel"
    commit: str = ""
    coverage: list[Coverage] = field(default_factory=list)
    variants: list[VariantCheck] = field(default_factory=list)
    #: Variants present but in no required list (e.g. newer Torch), and other remarks.
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def problem_count(self) -> int:
        return (len(self.problems) + sum(1 for c in self.coverage if c.missing)
                + sum(len(v.problems) for v in self.variants))


def _default_api() -> "HfApi":
    from .hub import hub_client

    return hub_client()


def check_repo(repo_id: str, version: int, api: Optional["HfApi"] = None) -> RepoCheck:
    """Check version ``version`` (branch ``v<version>``) of ``repo_id`` on the Hub."""
    from huggingface_hub import RepoFile
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    if not is_valid_repo_id(repo_id):
        raise KernelCheckError(f"expected a Hub repository id like 'org/name', got {repo_id!r}")
    api = api or _default_api()
    report = RepoCheck(repo_id, version)
    for repo_type in ("kernel", "model"):
        try:
            api.repo_info(repo_id, repo_type=repo_type)
        except RepositoryNotFoundError:
            continue
        report.repo_type = repo_type
        break
    else:
        raise KernelCheckError(f"repository {repo_id!r} not found on {api.endpoint} "
                               "(it does not exist, or it is private and you are not logged in)")
    if report.repo_type != "kernel":
        report.problems.append(f"{repo_id} is a model repository; compliant kernels are kernel-type repositories "
                               "(re-upload it with kernel-builder upload)")

    refs = api.list_repo_refs(repo_id, repo_type=report.repo_type)
    branches = {b.name: b.target_commit for b in refs.branches}
    branch = f"v{version}"
    if branch not in branches:
        versions = sorted(int(b[1:]) for b in branches if re.fullmatch(r"v\d+", b))
        available = f"available versions: {', '.join(map(str, versions))}" if versions else "it has no vN branches"
        raise KernelCheckError(f"{repo_id} has no version {version} (no branch {branch!r}); {available}")
    report.commit = branches[branch]

    try:
        entries = api.list_repo_tree(repo_id, path_in_repo="build", revision=report.commit,
                                     repo_type=report.repo_type, recursive=True)
        paths = [e.path for e in entries if isinstance(e, RepoFile)]
    except EntryNotFoundError:
        paths = []
    files: dict[str, set[str]] = {}
    for path in paths:
        parts = path.split("/")
        if len(parts) >= 3:
            files.setdefault(parts[1], set()).add("/".join(parts[2:]))
    if not files:
        report.problems.append(f"branch {branch} has no build variants (no build/<variant>/ directories)")
        return report

    with tempfile.TemporaryDirectory(prefix="kernels-check-") as tmp:
        for name in sorted(files):
            report.variants.append(_check_variant(api, report, name, files[name], Path(tmp)))
    _check_coverage(report, sorted(files))
    return report


def _check_variant(api: "HfApi", report: RepoCheck, name: str, files: set[str], cache: Path) -> VariantCheck:
    check = VariantCheck(name)
    parsed = parse_variant_or_none(name)
    if parsed is None:
        check.problems.append("not a valid build variant name")
        return check
    if "__init__.py" not in files:
        check.problems.append("missing __init__.py")
    if "metadata.json" not in files:
        check.problems.append("missing metadata.json")
        return check
    try:
        local = api.hf_hub_download(report.repo_id, f"build/{name}/metadata.json", revision=report.commit,
                                    repo_type=report.repo_type, cache_dir=str(cache))
        text = Path(local).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        check.problems.append(f"metadata.json: cannot download or read it ({' '.join(str(e).split())})")
        return check
    try:
        metadata = Metadata.from_dict(json.loads(text), source="metadata.json")
    except json.JSONDecodeError as e:
        check.problems.append(f"metadata.json: invalid JSON ({e.msg} at line {e.lineno})")
        return check
    except MetadataError as e:
        check.problems.append(str(e))
        return check
    if metadata.version != report.version:
        check.problems.append(f"metadata.json: version {metadata.version} on branch v{report.version}")
    if parsed.backend_name != "universal" and metadata.backend.type != parsed.backend_name:
        check.problems.append(
            f"metadata.json: backend {metadata.backend.type!r} does not match the variant name ({parsed.backend_name!r})"
        )
    return check


def _check_coverage(report: RepoCheck, names: list[str]) -> None:
    required = required_variants()
    present = set(names)
    covered: set[tuple[str, str]] = set()
    listed: set[str] = set()
    for name in names:
        parsed = parse_variant_or_none(name)
        if parsed is None or parsed.noarch:
            continue
        covered.add((f"{parsed.arch}-{parsed.os}", parsed.backend_name))
    for system, backend in sorted(covered):
        wanted = tuple(required.get(system, {}).get(backend, ()))
        if not wanted:
            report.notes.append(f"{system} {backend}: not in the required build-variant list")
            continue
        listed.update(wanted)
        report.coverage.append(Coverage(system, backend, wanted, tuple(n for n in wanted if n not in present)))
    extra = sorted(n for n in present if n not in listed and (p := parse_variant_or_none(n)) is not None and not p.noarch)
    if extra:
        report.notes.append(f"variants beyond the required list: {', '.join(extra)}")


def format_check(report: RepoCheck, ok: str = "✅", bad: str = "❌") -> list[str]:
    lines = [f"Checking {report.repo_id} version {report.version} "
             f"({report.repo_type} repository, branch v{report.version} at {report.commit[:12]})"]
    lines += [f"{bad} {p}" for p in report.problems]
    for c in report.coverage:
        have = len(c.required) - len(c.missing)
        if c.missing:
            lines.append(f"{bad} {c.system} {c.backend}: {have} of {len(c.required)} required variants; "
                         f"missing: {', '.join(c.missing)}")
        else:
            lines.append(f"{ok} {c.system} {c.backend}: all {len(c.required)} required variants")
    for v in report.variants:
        if v.problems:
            lines += [f"{bad} {v.name}: {p}" for p in v.problems]
        else:
            lines.append(f"{ok} {v.name}: metadata OK")
    lines += [f"   {n}" for n in report.notes]
    count = report.problem_count
    if count:
        lines.append(f"{bad} Not compliant: {count} problem{'s' if count != 1 else ''}")
    else:
        lines.append(f"{ok} Compliant")
    return lines
