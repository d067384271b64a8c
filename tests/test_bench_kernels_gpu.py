"""bench/kernels_gpu.py and bench/gpu_report.py without a GPU: device slugs, cases, arguments, candidates on CPU
and the report rendered from synthetic results (tests/bench_fixtures)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
FIXTURE = Path(__file__).with_name("bench_fixtures") / "kernels-gpu-synthetic.json"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report():
    return _load("gpu_report")


@pytest.fixture(scope="module")
def bench(report):
    return _load("kernels_gpu")


@pytest.fixture(scope="module")
def synthetic(report):
    payload = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return payload, [report.Result.from_dict(r) for r in payload["results"]]


@pytest.mark.parametrize("name, slug", [
    ("NVIDIA H100 80GB HBM3", "h100"), ("NVIDIA H200", "h200"), ("NVIDIA H100 PCIe", "h100"),
    ("NVIDIA A100-SXM4-80GB", "a100"), ("NVIDIA L40S", "l40s"), ("NVIDIA GeForce RTX 4090", "rtx-4090"),
    ("Some Device!", "some-device"), ("", "gpu"), ("NVIDIA", "gpu"),
])
def test_the_report_is_named_after_the_gpu_model(report, name, slug):
    assert report.device_slug(name) == slug
    assert report.report_name(name) == f"kernel-performance-{slug}.md"


def test_verdicts_follow_the_targets(synthetic):
    _, (fast, slow, decode) = synthetic
    assert fast.targets() == [] and fast.verdict() == "ok"
    assert slow.targets() == [f"{slow.pct_copy:.1f}% of copy", "not faster than torch.compile"]
    assert slow.verdict() == "MISS"
    assert decode.graphed and not decode.large
    assert decode.targets() == ["not faster than the community kernel"] and decode.verdict() == "MISS"


def test_the_report_has_every_column_and_a_why_entry_with_an_ncu_command_per_miss(report, synthetic):
    payload, results = synthetic
    text = report.render_report(results, payload["environment"], "CMD", 5, 2.0, payload["skipped"],
                                payload["community"])
    assert text.startswith("# Kernel performance: activation and rms_norm on NVIDIA H200")
    assert "kernel-performance-h200.md" in text and payload["community"] in text
    header = next(line for line in text.splitlines() if line.startswith("| kernel |"))
    for column in ("ours µs", "% copy", "eager µs", "compile µs", "community µs", "× community",
                   "ours vs fp64", "community vs fp64", "verdict"):
        assert column in header
    rows = [line for line in text.splitlines() if line.startswith("| ") and "|---" not in line][1:]
    assert [row.rsplit("|", 2)[1].strip() for row in rows] == [r.verdict() for r in results]
    assert "64×4096 (graph)" in rows[2]
    why = text.split("## Why rows miss", 1)[1]
    assert results[0].label not in why
    for missed in results[1:]:
        assert f"**{missed.label}**" in why and f"--only '{missed.label}'" in why
    assert "-k regex:gated_kernel" in why and "-k regex:rms_norm" in why
    assert "Faster than the community kernel: 2/3" in text
    assert "Not run (time budget): rms_norm 16384x14336 bf16" in text


def test_the_report_re_renders_from_json_and_rejects_a_file_that_is_not_one(report, tmp_path, capsys):
    out = tmp_path / "r.md"
    assert report.main([str(FIXTURE), "--output", str(out)]) == 0
    assert "| silu_and_mul | 8192×8192 | bf16 |" in out.read_text(encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text('{"results": []}', encoding="utf-8")
    assert report.main([str(bad), "--output", str(out)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"gpu_report.py: error: {bad}")


def test_default_cases_cover_decode_and_large_shapes_in_every_dtype(bench):
    cases = bench.default_cases()
    assert len({c.label for c in cases}) == len(cases)
    for shape in ((1, 4096), (64, 4096), (8192, 8192), (16384, 4096)):
        for dtype in ("fp32", "fp16", "bf16"):
            assert {c.kernel for c in cases if c.shape == shape and c.dtype == dtype} == set(bench.ALL_OPS)
    assert all(c.graphed == (c.shape[0] * c.shape[1] <= 64 * 4096) for c in cases)
    assert {c.shape for c in cases if c.graphed} == {(1, 4096), (64, 4096)}


@pytest.mark.parametrize("argv, message", [
    (["--reps", "0"], "--reps must be at least 1"),
    (["--target-ms", "0"], "--target-ms must be positive"),
    (["--budget-s", "-1"], "--budget-s must be 0"),
    (["--only", "no such op"], "--only 'no such op': no case label contains it"),
])
def test_bad_arguments_get_one_clear_line(bench, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_arguments_default_to_a_report_named_later_after_the_gpu(bench, tmp_path, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--community-dir", str(tmp_path)])
    assert f"--community-dir {tmp_path}: no BUILD.json" in capsys.readouterr().err
    (tmp_path / "BUILD.json").write_text("{}", encoding="utf-8")
    args = bench.parse_args(["--only", "rms_norm 64x4096", "--community-dir", str(tmp_path)])
    assert args.output is None and args.community_dir == tmp_path
    assert [c.label for c in bench.select_cases(args.quick, args.only)] == [
        f"rms_norm 64x4096 {dt}" for dt in ("bf16", "fp16", "fp32")]


class _ReferenceOps:
    """Stands in for our kernels on CPU: the reference, written into the preallocated output."""

    def __init__(self, bench):
        self.refs = bench._references()

    def __getattr__(self, op):
        if op == "rms_norm":
            return lambda x, w, eps, out: out.copy_(self.refs["rms_norm"](x, w, eps))
        return lambda out, x: out.copy_(self.refs[op](x))


@pytest.mark.parametrize("op", ["silu_and_mul", "gelu_and_mul", "gelu_fast", "gelu_tanh", "rms_norm"])
def test_candidates_and_the_float64_check_on_cpu(bench, monkeypatch, op):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(bench, "DEVICE", "cpu")
    case = bench.Case(op, (4, 64), "fp32")
    prepared = bench.prepare(case, _ReferenceOps(bench), community=None)
    assert set(prepared.candidates) == {"ours", "eager", "compiled"}
    esize = 4
    expected = {"rms_norm": 2 * 4 * 64 * esize + 64 * esize, "silu_and_mul": 3 * 4 * 64 * esize,
                "gelu_and_mul": 3 * 4 * 64 * esize}.get(op, 2 * 4 * 64 * esize)
    assert prepared.bytes_moved == expected
    ours = prepared.candidates["ours"]
    ours.output().fill_(float("nan"))
    ours.run()
    reference = prepared.reference64()
    err, ok = bench.check_candidate(ours, reference, "fp32")
    assert ok and err < 1e-5
    ours.output().add_(1.0)  # a wrong result must fail the check
    assert bench.check_candidate(ours, reference, "fp32")[1] is False
    prepared.candidates["eager"].run()
    assert torch.allclose(prepared.candidates["eager"].output(), ours.output() - 1.0, atol=1e-6)


def test_runs_of_one_gpu_merge_and_runs_of_two_gpus_do_not(report, tmp_path, capsys):
    payload = json.loads(FIXTURE.read_text(encoding="utf-8"))
    rerun = dict(payload["results"][1], kernel_ms=0.09)
    was_skipped = dict(payload["results"][0], label="rms_norm 16384x14336 bf16", kernel="rms_norm")
    later = dict(payload, skipped=[], results=[rerun, was_skipped])
    second = tmp_path / "second.json"
    second.write_text(json.dumps(later), encoding="utf-8")
    env, results, _, skipped, _ = report.load_runs([FIXTURE, second])
    by_label = {r.label: r for r in results}
    assert len(results) == 4 and by_label["gelu_and_mul 8192x8192 fp16"].kernel_ms == 0.09
    assert skipped == []  # the first run's skipped case ran in the second
    other = tmp_path / "other.json"
    other.write_text(json.dumps(dict(later, environment=dict(env, gpu="NVIDIA H100 80GB HBM3"))), encoding="utf-8")
    assert report.main([str(FIXTURE), str(other), "--output", str(tmp_path / "r.md")]) == 2
    assert "not 'NVIDIA H200'" in capsys.readouterr().err
    assert not (tmp_path / "r.md").exists()


@pytest.mark.parametrize("script", ["run_gpu.sh", "run_h100.sh"])
def test_the_run_script_and_its_old_name_need_an_out_dir_and_a_cuda_gpu(script, tmp_path):
    proc = subprocess.run(["bash", str(BENCH / script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "usage: bench/run_gpu.sh OUT_DIR" in proc.stderr
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: the script would build and benchmark")
    proc = subprocess.run(["bash", str(BENCH / script), str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 2
    assert "this script needs a CUDA GPU and a CUDA build of Torch" in proc.stdout + proc.stderr


def test_resume_reads_the_labels_done_and_rejects_a_file_that_is_not_a_run(bench, tmp_path, capsys):
    args = bench.parse_args(["--resume", str(FIXTURE)])
    payload = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert args.done == {r["label"] for r in payload["results"]}
    bad = tmp_path / "bad.json"
    bad.write_text("[]", encoding="utf-8")
    with pytest.raises(SystemExit):
        bench.parse_args(["--resume", str(bad)])
    assert f"--resume {bad}: not a kernels_gpu.py --json file" in capsys.readouterr().err


def test_the_old_benchmark_name_runs_the_new_one():
    proc = subprocess.run([sys.executable, str(BENCH / "kernels_h100.py"), "--reps", "0"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "--reps must be at least 1" in proc.stderr
    assert "kernels_gpu.py" in proc.stderr  # usage names the script that ran
