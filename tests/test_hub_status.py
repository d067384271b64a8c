"""``kernel-status.toml`` redirects, parsed and followed against the test Hub."""

from __future__ import annotations

import pytest
from hub_server.helpers import last_json, push, run_python, variant_files

from kernels.status import KernelStatus, Redirect


def test_redirect_parses_with_default_revision() -> None:
    status = KernelStatus.from_toml('kind = "redirect"\ndestination = "org/new"\n')
    assert status == Redirect(destination="org/new", revision="main")
    assert KernelStatus.from_toml('kind = "redirect"\ndestination = "org/new"\nrevision = "v3"').revision == "v3"


@pytest.mark.parametrize(("content", "message"), [
    ("", "must contain a 'kind' field"),
    ('destination = "org/new"', "must contain a 'kind' field"),
    ('kind = "retired"', "Unknown kernel status kind: 'retired'"),
    ('kind = "redirect"', "must contain a 'destination' field"),
    ('kind = "redirect"\ndestination = 3', "'destination' must be a string"),
    ("kind = [", "not valid TOML"),
])
def test_malformed_status_names_the_problem(content: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KernelStatus.from_toml(content)


def test_get_kernel_follows_one_redirect(hub_server, hub_env) -> None:
    from kernels.variants import current_variant

    new_sha = push(hub_server, "kernels-test/moved-new",
                   variant_files(current_variant("cpu"), name="moved", init="VALUE = 7\n"), branch="v2")
    push(hub_server, "kernels-test/moved-old",
         {"kernel-status.toml": b'kind = "redirect"\ndestination = "kernels-test/moved-new"\nrevision = "v2"\n'},
         branch="v1")
    push(hub_server, "kernels-test/moved-loop",
         {"kernel-status.toml": b'kind = "redirect"\ndestination = "kernels-test/moved-old"\nrevision = "v1"\n'})
    out = last_json(run_python("""
        import json, logging, kernels
        records = []
        logging.getLogger("kernels.status").addHandler(type("H", (logging.Handler,), {"emit": lambda s, r: records.append(r.getMessage())})())
        k = kernels.get_kernel("kernels-test/moved-old", version=1, backend="cpu")
        [loaded] = [x for x in kernels.get_loaded_kernels() if x.module is k]
        variants = [d.variant for d in kernels.get_kernel_variants("kernels-test/moved-old", version=1, backend="cpu")]
        try:
            kernels.get_kernel("kernels-test/moved-loop", revision="main", backend="cpu")
            loop = "loaded"
        except FileNotFoundError as e:
            loop = type(e).__name__
        print(json.dumps([k.VALUE, loaded.repo_info.repo_id, loaded.repo_info.revision, records, variants, loop]))
    """, hub_env))
    value, repo_id, revision, records, variants, loop = out
    assert (value, repo_id, revision) == (7, "kernels-test/moved-new", new_sha)
    assert "'kernels-test/moved-old' redirected to 'kernels-test/moved-new'" in records[0]
    assert variants and variants[0] == current_variant("cpu")
    # One hop only: the redirect target of a redirect is not followed again.
    assert loop == "VariantNotFoundError"
