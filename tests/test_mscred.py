"""MSCRED: signature matrices by hand, build-mscred files, reproducible training, calibration,
checkpoint errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alog_detect.errors import UserError
from alog_detect.mscred_data import (
    BucketRule, BuildMSCREDConfig, SignatureSpec, build_mscred, build_signatures, load_signatures,
    residual_scores, signature_matrices)
from alog_detect.vocab import Vocab, save_vocab, vocab_sha256

# ---- signature matrices by hand ---------------------------------------------------------------


def test_signature_matrix_values_by_hand():
    counts = np.array([[1, 1, 0], [2, 0, 0], [0, 3, 1]])
    m = signature_matrices(counts, (1, 3), n=8, norm=4)
    assert m.shape == (2, 8, 8) and m.dtype == np.float32
    # w=1: the outer product of the last bucket (0,3,1), over 1 * 4 * 4.
    assert m[0, :3, :3].tolist() == [[0, 0, 0], [0, 0.5625, 0.1875], [0, 0.1875, 0.0625]]
    # w=3: (1,1,0)x(1,1,0) + (2,0,0)x(2,0,0) + (0,3,1)x(0,3,1), divided by 3 * 4 * 4 = 48 in float32.
    expected = np.array([[5, 1, 0], [1, 10, 3], [0, 3, 1]], dtype=np.float32) / np.float32(48)
    assert np.array_equal(m[1, :3, :3], expected)
    assert m[1, 1, 1] == np.float32(0.20833333)                  # 10 / 48
    assert not m[:, 3:, :].any() and not m[:, :, 3:].any()   # padding stays zero


def test_signature_rounds_the_integer_sum_once_then_divides_once():
    # 4097^2 = 16785409 is odd and above 2^24: float32 holds only even integers there, and the tie
    # goes to the even mantissa, 16785408. 16785408 / 25 = 671416.32 -> 671416.3125 (float32 steps
    # of 1/16 here); dividing the exact sum in double first would give 671416.375.
    m = signature_matrices(np.array([[4097]]), (1,), n=8, norm=5)
    assert m[0, 0, 0] == 671416.3125 and m[0, 0, 0] > 1      # a seconds bucket may exceed norm


def test_norm_is_the_bucket_size_for_lines_and_keeps_the_divisor_exact():
    assert SignatureSpec(3, bucket=BucketRule("lines", 20)).norm == 20
    with pytest.raises(ValueError, match="norm must be the bucket size 20"):
        SignatureSpec(3, bucket=BucketRule("lines", 20), norm=19)
    assert SignatureSpec(3, bucket=BucketRule("seconds", 10)).norm is None     # measured by build-mscred
    # 2^24 = 16777216: 60 * 528^2 = 16727040 is below it, 60 * 529^2 = 16790460 is not.
    assert SignatureSpec(3, window_sizes=(10, 60), bucket=BucketRule("lines", 528)).norm == 528
    with pytest.raises(ValueError, match=r"60 \* 529\^2 = 16790460 is not below 2\^24"):
        SignatureSpec(3, window_sizes=(10, 60), bucket=BucketRule("lines", 529))
    with pytest.raises(ValueError, match="not below 2"):
        SignatureSpec(3, window_sizes=(4,), bucket=BucketRule("seconds", 1), norm=2048)   # 4 * 2048^2 = 2^24
    with pytest.raises(ValueError, match="need the norm"):
        build_signatures(SignatureSpec(3, window_sizes=(1,), step=1, steps=1, bucket=BucketRule("seconds", 1)),
                         [(0, 1, 0.0), (1, 2, 5.0)])


def _spec(unit: str, size: int, **kw) -> SignatureSpec:
    return SignatureSpec(3, window_sizes=kw.get("window_sizes", (1, 2)), step=kw.get("step", 1),
                         steps=kw.get("steps", 2), bucket=BucketRule(unit, size), norm=kw.get("norm"))


def test_line_buckets_close_every_b_events_and_drop_the_partial_one():
    events = [(0, 1, None), (1, 2, None), (0, 3, None), (0, 4, None), (2, 5, None), (2, 6, None), (1, 7, None)]
    sigs, segment, end_line, buckets = build_signatures(_spec("lines", 2), events)
    # Buckets (1,1,0), (2,0,0), (0,0,2); the 7th event's bucket never closes. First signature at j=1.
    # norm = 2 (the bucket size): w=1 divides by 1 * 2 * 2 = 4, w=2 by 2 * 2 * 2 = 8.
    assert buckets == 3
    assert end_line.tolist() == [4, 6] and segment.tolist() == [0, 0]
    assert sigs[0, 0, :3, :3].tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]
    assert sigs[0, 1, :3, :3].tolist() == [[0.625, 0.125, 0], [0.125, 0.125, 0], [0, 0, 0]]   # (5,1;1,1) / 8
    assert sigs[1, 0, 2, 2] == 1 and sigs[1, 1, 0, 0] == 0.5 and sigs[1, 1, 2, 2] == 0.5


def test_time_buckets_fill_gaps_and_restart_after_a_long_silence():
    spec = _spec("seconds", 10, norm=2)          # span = 2 + 1 = 3 buckets; w=1 divides by 4, w=2 by 8
    events = [(0, 1, 5.0), (1, 2, 12.0), (0, 3, 25.0), (0, 4, None), (2, 5, 41.0),
              (2, 6, 1000.0), (1, 7, 1011.0), (0, 8, 1019.0), (0, 9, 1025.0)]
    sigs, segment, end_line, buckets = build_signatures(spec, events)
    # Buckets 0 (x0), 1 (x1), 2 (x0 twice: the untimed event joins the open bucket), 3 (empty, gap),
    # 4 (x2); 100 is 96 > span ids later: restart; then 100 (x2) and 101 (x1, x0) close.
    assert buckets == 7
    assert segment.tolist() == [0, 0, 0, 0, 1]
    assert end_line.tolist() == [2, 4, 4, 5, 8]
    assert sigs[1, 0, 0, 0] == 1                     # bucket 2 alone: 2 * 2 / 4
    assert sigs[2, 0].sum() == 0 and sigs[2, 1, 0, 0] == 0.5  # empty gap bucket; (2,0,0)+(0,0,0): 4 / 8
    assert sigs[4, 0, :3, :3].tolist() == [[0.25, 0.25, 0], [0.25, 0.25, 0], [0, 0, 0]]


def test_model_inputs_never_span_a_restart():
    spec = _spec("seconds", 10, steps=2, norm=1)
    events = [(0, i, 10.0 * i) for i in range(1, 6)] + [(1, i, 10.0 * i + 10_000) for i in range(6, 12)]
    sigs, segment, _, _ = build_signatures(spec, events)
    from alog_detect.mscred_data import SignatureSet
    sigset = SignatureSet(spec, ("a", "b", "c"), sigs, segment, np.zeros(len(sigs), dtype=np.int64), {})
    ends = sigset.input_ends()
    assert len(ends) > 0
    assert all(segment[k - 1] == segment[k] for k in ends)
    assert len(ends) == len(sigs) - 2                # one input fewer per segment


def test_residual_scores_are_strict_float32_counts():
    last = np.zeros((2, 1, 2, 2), dtype=np.float32)
    recon = np.array([[[[0.5, 0.25], [-0.5, 0.0]]], [[[1.0, 1.0], [1.0, 0.5]]]], dtype=np.float32)
    assert residual_scores(recon, last, 0.5).tolist() == [0, 3]
    assert residual_scores(recon, last, 0.25).tolist() == [2, 4]


# ---- build-mscred ------------------------------------------------------------------------------

# Three normal "rhythms" cycling through 5 templates; build from it, train on it, calibrate on it.
PATTERN = ["boot <*>", "link up <*>", "poll <*>", "poll <*>", "sync done", "poll <*>", "link up <*>",
           "poll <*>", "heartbeat", "poll <*>"]


def _write_parsed(path: Path, templates: list[str], start: float = 1_700_000_000.0) -> Path:
    n = len(templates)
    pq.write_table(pa.table({
        "line_no": pa.array(range(1, n + 1), pa.int64()),
        "source": ["x.log"] * n,
        "timestamp": pa.array([start + i * 0.5 for i in range(n)], pa.float64()),
        "session": ["all"] * n,
        "template": templates,
        "template_id": pa.array([0] * n, pa.int64()),
        "content": templates,
    }), path)
    return path


def _normal_templates() -> list[str]:
    rng = np.random.default_rng(3)
    return [PATTERN[i % len(PATTERN)] if rng.random() > 0.05 else "heartbeat" for i in range(1200)]


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> Path:
    templates = _normal_templates()
    return _write_parsed(tmp_path_factory.mktemp("parsed") / "parsed.parquet", templates)


SMALL = dict(window_sizes=(2, 4), step=1, steps=2, bucket="lines:5")


@pytest.fixture(scope="module")
def data_dir(parsed, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sig") / "ms"
    build_mscred(BuildMSCREDConfig(parsed=parsed, out_dir=out, **SMALL))
    return out


def test_build_mscred_files(data_dir, parsed):
    meta = json.loads((data_dir / "signatures.json").read_text())
    assert meta["kind"] == "mscred-signatures" and meta["format_version"] == 2
    # Vocabulary order: descending count, then template text (boot and sync done tie).
    assert meta["templates"] == ["poll <*>", "link up <*>", "heartbeat", "boot <*>", "sync done"]
    assert meta["templates_sha256"] == vocab_sha256(meta["templates"]) and meta["vocab_sha256"] is None
    assert meta["spec"] == {"num_templates": 5, "n": 8, "window_sizes": [2, 4], "step": 1, "steps": 2,
                            "bucket": {"unit": "lines", "size": 5}, "norm": 5}
    assert meta["num_buckets"] == 240 and meta["num_signatures"] == 237 and meta["num_inputs"] == 236
    with np.load(data_dir / "signatures.npz", allow_pickle=False) as npz:
        assert set(npz.files) == {"signatures", "segment", "end_line"}
        sigs = npz["signatures"]
    assert sigs.shape == (237, 2, 8, 8) and sigs.dtype == np.float32
    # Every bucket holds norm = 5 events, so its outer product sums to 25 = norm^2 over the cells:
    # every matrix sums to w * 25 / (w * 25) = 1, and no cell exceeds 1.
    assert np.allclose(sigs.sum(axis=(2, 3)), 1.0) and sigs.max() <= 1.0 and sigs.min() >= 0.0
    assert load_signatures(data_dir).end_line[0] == 20      # bucket j=3 ends at the 20th line


def test_build_mscred_is_byte_identical(parsed, data_dir, tmp_path):
    build_mscred(BuildMSCREDConfig(parsed=parsed, out_dir=tmp_path / "again", **SMALL))
    for name in ("signatures.npz", "signatures.json"):
        assert (tmp_path / "again" / name).read_bytes() == (data_dir / name).read_bytes()


def test_build_mscred_uses_the_vocabulary_and_ignores_other_templates(parsed, tmp_path):
    vocab = Vocab(("heartbeat", "poll <*>", "never seen"))
    save_vocab(tmp_path / "vocab.json", vocab)
    result = build_mscred(BuildMSCREDConfig(parsed=parsed, out_dir=tmp_path / "v", vocab=tmp_path / "vocab.json",
                                            **SMALL))
    assert result.templates == vocab.templates and result.meta["vocab_sha256"] == vocab.sha256
    counted = result.meta["ignored_rows"]
    assert 0 < counted < 1200
    # Index 2 never occurs, so its row and column stay zero; heartbeat (0) and poll (1) co-occur.
    assert not result.signatures[:, :, 2, :].any() and result.signatures[:, :, 0, 1].any()


def test_build_mscred_cli_errors(cli, parsed, tmp_path):
    bad = cli("build-mscred", "--parsed", parsed, "--out-dir", tmp_path / "o", "--bucket", "minutes:3", check=False)
    assert bad.returncode == 2 and "bucket unit must be one of lines, seconds" in bad.stderr_text
    assert not (tmp_path / "o").exists()
    inexact = cli("build-mscred", "--parsed", parsed, "--out-dir", tmp_path / "o", "--bucket", "lines:529",
                  check=False)   # default windows up to 60: 60 * 529^2 >= 2^24
    assert inexact.returncode == 2 and "is not below 2^24" in inexact.stderr_text
    assert "max(window) * N^2 below 2^24" in inexact.stderr_text and len(inexact.stderr_text.splitlines()) == 1
    assert not (tmp_path / "o").exists()
    short = _write_parsed(tmp_path / "short.parquet", PATTERN * 3)
    few = cli("build-mscred", "--parsed", short, "--out-dir", tmp_path / "o", check=False)
    assert few.returncode == 2 and "not one model input" in few.stderr_text
    assert len(few.stderr_text.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_build_mscred_by_seconds_cli(cli, parsed, tmp_path):
    out = cli("build-mscred", "--parsed", parsed, "--out-dir", tmp_path / "t", "--bucket", "seconds:3",
              "--window-sizes", "2,4", "--step", "2", "--steps", "2")
    assert "signatures" in out.stdout_text
    meta = json.loads((tmp_path / "t" / "signatures.json").read_text())
    # 1200 lines at 0.5 s from 1_700_000_000 (1/3 into a 3 s bucket, since ids are floor(ts / 3)):
    # 201 bucket ids, the last one stays open. Full buckets hold 6 lines: norm = 6.
    assert meta["num_buckets"] == 200 and meta["spec"]["bucket"] == {"unit": "seconds", "size": 3}
    assert meta["spec"]["norm"] == 6
    # A matrix sums to (sum of bucket totals^2) / (w * 36): 1 over full buckets; the first w=4 one
    # also holds the 2-line first bucket, (2^2 + 3 * 6^2) / (4 * 36) = 112 / 144.
    sums = load_signatures(tmp_path / "t").signatures.sum(axis=(2, 3))
    assert sums[0, 1] == pytest.approx(112 / 144) and np.allclose(np.delete(sums.ravel(), 1), 1.0)


def test_build_mscred_refuses_a_seconds_bucket_too_busy_for_float32(tmp_path):
    # 2100 lines in one second and one later line to close that bucket: norm = 2100 and
    # 4 * 2100^2 >= 2^24, so no divisor of the windows (2, 4) is exact in float32.
    parsed = _write_parsed(tmp_path / "busy.parquet", ["poll <*>"] * 2101)
    table = pq.read_table(parsed)
    stamps = pa.array([1_700_000_000.0] * 2100 + [1_700_000_010.0], pa.float64())
    pq.write_table(table.set_column(table.schema.get_field_index("timestamp"), "timestamp", stamps), parsed)
    with pytest.raises(UserError, match=r"4 \* 2100\^2 = 17640000 is not below 2\^24") as err:
        build_mscred(BuildMSCREDConfig(parsed=parsed, out_dir=tmp_path / "o", window_sizes=(2, 4), step=1,
                                       steps=2, bucket="seconds:3"))
    assert err.value.path == str(parsed) and "--bucket seconds:N" in err.value.fix
    assert not (tmp_path / "o").exists()


def test_old_or_normless_signature_files_are_refused(data_dir, tmp_path):
    meta = json.loads((data_dir / "signatures.json").read_text())
    out = tmp_path / "old"
    out.mkdir()
    (out / "signatures.npz").write_bytes((data_dir / "signatures.npz").read_bytes())
    (out / "signatures.json").write_text(json.dumps({**meta, "format_version": 1}))
    with pytest.raises(UserError, match="format_version"):
        load_signatures(out)
    spec = {k: v for k, v in meta["spec"].items() if k != "norm"}
    (out / "signatures.json").write_text(json.dumps({**meta, "spec": spec}))
    with pytest.raises(UserError, match="malformed signatures metadata .*norm"):
        load_signatures(out)


# ---- training, calibration, checkpoints ----------------------------------------------------------

TINY = dict(epochs=3, lr=3e-3, seed=7, batch_size=16, channels=(2, 2, 2, 2), valid_fraction=0.25,
            cell_quantile=0.99, progress=False)


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    from alog_detect.train.mscred import MSCREDTrainConfig, train_mscred

    out = tmp_path_factory.mktemp("model") / "mscred.pth"
    return train_mscred(MSCREDTrainConfig(data=data_dir, out=out, **TINY))


def test_training_is_reproducible(trained, data_dir, tmp_path):
    from alog_detect.train.mscred import MSCREDTrainConfig, train_mscred

    again = train_mscred(MSCREDTrainConfig(data=data_dir, out=tmp_path / "m.pth", **TINY))
    assert again.checkpoint.read_bytes() == trained.checkpoint.read_bytes()
    assert again.curve.read_bytes() == trained.curve.read_bytes()
    assert trained.curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    other = train_mscred(MSCREDTrainConfig(data=data_dir, out=tmp_path / "o.pth", **{**TINY, "seed": 8}))
    assert other.train_losses != trained.train_losses


def test_checkpoint_records_everything_and_calibration_holds(trained, data_dir):
    from alog_detect.train.mscred import load_mscred_checkpoint

    loaded = load_mscred_checkpoint(trained.checkpoint)
    cfg = loaded.checkpoint["config"]
    for key, value in {"n": 8, "scales": 2, "steps": 2, "channels": [2, 2, 2, 2], "window_sizes": [2, 4],
                       "step": 1, "bucket": {"unit": "lines", "size": 5}, "norm": 5, "epochs": 3, "seed": 7,
                       "batch_size": 16, "valid_fraction": 0.25, "cell_quantile": 0.99}.items():
        assert cfg[key] == value, key
    sigset = load_signatures(data_dir)
    assert loaded.templates == sigset.templates and loaded.vocab_sha256 == vocab_sha256(sigset.templates)
    assert loaded.cell_threshold == float(np.float32(loaded.cell_threshold))

    # Recompute the calibration from the loaded model on the same validation slice.
    ends = sigset.input_ends()
    valid = sigset.inputs(ends[-59:])                       # round(236 * 0.25) = 59
    from alog_detect.train.mscred import torch_reconstructor
    recon = torch_reconstructor(loaded.model)(valid)
    scores = residual_scores(recon, valid[:, -1], loaded.cell_threshold)
    assert scores.tolist() == list(trained.calibration.valid_scores)
    assert loaded.anomaly_threshold == scores.max()
    residual = np.abs(recon - valid[:, -1])
    assert (residual > loaded.cell_threshold).mean() == pytest.approx(0.01, abs=0.003)

    # Cells are normalised, so the threshold is a fraction of one (norm 5: one count product is 1/25 / w).
    assert 0 < loaded.cell_threshold < 1
    # A burst of one template the normal rhythm never shows that much of scores above the threshold.
    burst = valid.copy()
    burst[:, -1, :, 3, 3] += 1.0
    burst[:, -1, :, 0, 3] += 0.4
    burst[:, -1, :, 3, 0] += 0.4
    burst_scores = residual_scores(torch_reconstructor(loaded.model)(burst), burst[:, -1], loaded.cell_threshold)
    assert (burst_scores > scores).mean() > 0.9


def test_training_on_normalised_signatures_takes_the_count_product_steps():
    """The scaled first/last layers and their Adam groups make training on x = counts / K follow,
    step for step, training the default-initialised network on the count products x * K."""
    import torch

    from alog_detect.models.mscred import MSCRED, MSCREDConfig
    from alog_detect.train.mscred import _count_product_groups

    scale = 400.0
    config = MSCREDConfig(n=8, scales=2, steps=2, channels=(2, 2, 2, 2))
    torch.manual_seed(0)
    raw = MSCRED(config)
    normalised = MSCRED(config)
    normalised.load_state_dict(raw.state_dict())
    groups = _count_product_groups(normalised, scale, lr=1e-3)
    assert [g["lr"] for g in groups] == [1e-3, 1e-3 * scale, 1e-3 / scale]
    x = torch.from_numpy(np.random.default_rng(0).integers(0, 40, (4, 2, 2, 8, 8)).astype(np.float32))
    with torch.no_grad():
        assert torch.allclose(normalised(x / scale) * scale, raw(x), rtol=1e-4, atol=1e-4)

    start = raw.enc2.weight.detach().clone()
    raw_opt, norm_opt = torch.optim.Adam(raw.parameters(), lr=1e-3), torch.optim.Adam(groups)
    for _ in range(3):
        for model, opt, inputs in ((raw, raw_opt, x), (normalised, norm_opt, x / scale)):
            loss = torch.mean((model(inputs) - inputs[:, -1]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
    # Three steps of ~1e-3 each moved the weights; both trainings moved them alike.
    assert (raw.enc2.weight - start).abs().max() > 1e-3
    assert (normalised.enc2.weight - raw.enc2.weight).abs().max() < 1e-5
    assert torch.allclose(normalised.enc1.weight, raw.enc1.weight * scale, rtol=1e-4)
    assert torch.allclose(normalised.dec1.bias * scale, raw.dec1.bias, rtol=1e-4, atol=1e-7)


def test_detection_meta_carries_the_rule(trained):
    from alog_detect.train.mscred import load_mscred_checkpoint

    meta = load_mscred_checkpoint(trained.checkpoint).detection_meta()
    spec = SignatureSpec.from_dict(meta)
    assert (spec.n, spec.window_sizes, spec.step, spec.steps, str(spec.bucket)) == (8, (2, 4), 1, 2, "lines:5")
    assert meta["norm"] == spec.norm == 5
    assert meta["anomaly_threshold"] == trained.calibration.anomaly_threshold


def test_checkpoint_errors(trained, tmp_path):
    import torch

    from alog_detect.train.mscred import load_mscred_checkpoint

    with pytest.raises(UserError, match="checkpoint not found"):
        load_mscred_checkpoint(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a readable checkpoint"):
        load_mscred_checkpoint(tmp_path / "junk.pth")
    ckpt = torch.load(trained.checkpoint, weights_only=True)
    cases = {
        "kind": ({**ckpt, "kind": "deeplog"}, "not a mscred checkpoint"),
        "version": ({**ckpt, "format_version": 1}, "format_version 1 is not 2"),
        "norm": ({**ckpt, "config": {**ckpt["config"], "norm": 4}}, "norm must be the bucket size 5"),
        "lacks": ({k: v for k, v in ckpt.items() if k != "calibration"}, "lacks calibration"),
        "templates": ({**ckpt, "templates": ckpt["templates"][::-1]}, "corrupt"),
        "shape": ({**ckpt, "config": {**ckpt["config"], "channels": [4, 4, 4, 4]}}, "does not describe"),
    }
    for name, (obj, message) in cases.items():
        torch.save(obj, tmp_path / f"{name}.pth")
        with pytest.raises(UserError, match=message):
            load_mscred_checkpoint(tmp_path / f"{name}.pth")


def test_mscred_train_cli(cli, data_dir, tmp_path):
    out = tmp_path / "sub" / "mscred.pth"
    run = cli("mscred-train", "--data", data_dir, "--out", out, "--epochs", "1", "--channels", "2,2,2,2",
              "--no-progress")
    assert "anomaly threshold" in run.stdout_text and out.is_file() and (tmp_path / "sub" / "mscred.pth.png").is_file()
    bad = cli("mscred-train", "--data", tmp_path / "nowhere", "--out", tmp_path / "x.pth", check=False)
    assert bad.returncode == 2 and "signatures.json" in bad.stderr_text and not (tmp_path / "x.pth").exists()


def test_train_config_errors(data_dir, tmp_path):
    from alog_detect.train.mscred import MSCREDTrainConfig, train_mscred

    with pytest.raises(UserError, match="--valid-fraction"):
        MSCREDTrainConfig(data=data_dir, out=tmp_path / "x.pth", valid_fraction=1.5)
    with pytest.raises(UserError, match="--channels"):
        MSCREDTrainConfig(data=data_dir, out=tmp_path / "x.pth", channels=(8, 8, 8))
    with pytest.raises(UserError, match="cannot be split"):
        train_mscred(MSCREDTrainConfig(data=data_dir, out=tmp_path / "x.pth", valid_fraction=0.001))
    assert not (tmp_path / "x.pth").exists()


def test_one_default_architecture_everywhere():
    """The device-sized channels are the default of the model, of mscred-train (which spells them
    out to import no torch) and of scons; the paper's stay one option away."""
    import argparse
    import sys

    from alog_detect.commands import mscred_train
    from alog_detect.models.mscred import EDGE_CHANNELS, PAPER_CHANNELS, MSCREDConfig
    from alog_detect.train.mscred import MSCREDTrainConfig

    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo / "site_scons"))
    import alog_options

    parser = argparse.ArgumentParser()
    mscred_train.add_arguments(parser)
    cli_default = parser.parse_args(["--data", "d", "--out", "o"]).channels
    assert tuple(cli_default) == EDGE_CHANNELS == MSCREDConfig(n=8).channels
    assert MSCREDTrainConfig(data=Path("d"), out=Path("o")).channels == EDGE_CHANNELS
    assert alog_options.parse_mscred_channels(alog_options.MSCRED_CHANNELS_DEFAULT) == EDGE_CHANNELS
    assert alog_options.parse_mscred_channels(alog_options.MSCRED_CHANNELS_PAPER) == PAPER_CHANNELS
    assert EDGE_CHANNELS != PAPER_CHANNELS
