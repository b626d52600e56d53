"""build-deeplog, the DeepLog decision rule, deeplog-train and its checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from alog_detect.deeplog_data import (BuildDeepLogConfig, SessionSequences, build_deeplog,
                                      read_sequences, write_sequences)
from alog_detect.deeplog_rule import (REASON_NOT_IN_TOPK, REASON_OK, REASON_UNKNOWN, UNKNOWN, judge,
                                      judge_sessions, session_is_anomalous, session_windows, topk)
from alog_detect.errors import UserError
from alog_detect.train.deeplog import (DeepLogTrainConfig, load_deeplog_checkpoint, torch_predictor,
                                       train_deeplog)
from alog_detect.vocab import Vocab, load_vocab, save_vocab


def write_parsed(path, sessions, templates, template_col="template"):
    pq.write_table(pa.table({"line_no": pa.array(range(1, len(sessions) + 1), pa.int64()),
                             "session": sessions, template_col: templates}), path)
    return path


def write_training_data(tmp_path, sessions: list[list[str]], window=4):
    """Sessions of templates -> (vocab.json, sequences.parquet) as build-deeplog writes them."""
    counts: dict[str, int] = {}
    for s in sessions:
        for t in s:
            counts[t] = counts.get(t, 0) + 1
    vocab = Vocab.from_counts(counts)
    index = vocab.index()
    seqs = SessionSequences(tuple(f"s{i}" for i in range(len(sessions))),
                            tuple(tuple(index[t] for t in s) for s in sessions),
                            tuple(tuple(range(1, len(s) + 1)) for s in sessions), vocab.sha256, window)
    save_vocab(tmp_path / "vocab.json", vocab)
    write_sequences(tmp_path / "sequences.parquet", seqs)
    return tmp_path / "vocab.json", tmp_path / "sequences.parquet", vocab


CYCLE = ["open <*>", "read <*>", "write <*>", "close <*>"]


def small_config(tmp_path, vocab_path, seq_path, **kw):
    base = dict(seq=seq_path, vocab=vocab_path, out=tmp_path / "deeplog.pth", hidden=16, layers=1,
                embed_dim=8, window=4, top_k=1, epochs=3, batch_size=8, lr=0.01, seed=7, progress=False)
    return DeepLogTrainConfig(**{**base, **kw})


# ---- build-deeplog ---------------------------------------------------------------------------

def test_build_deeplog_vocab_order_and_sequences(tmp_path, cli):
    parsed = write_parsed(tmp_path / "parsed.parquet",
                          ["b", "a", "b", None, "a", "b", "a"],
                          ["open", "open", "read", "noise", "read", "close", "read"])
    proc = cli("build-deeplog", "--parsed", parsed, "--out-dir", tmp_path / "out", "--window-size", "3")
    assert "1 rows without a session" in proc.stdout_text
    # read: 3, open: 2, close: 1
    assert json.loads((tmp_path / "out" / "vocab.json").read_text()) == {"read": 0, "open": 1, "close": 2}
    seqs = read_sequences(tmp_path / "out" / "sequences.parquet")
    assert seqs.sessions == ("b", "a")  # first appearance
    assert seqs.keys == ((1, 0, 2), (1, 0, 0))
    assert seqs.lines == ((1, 3, 6), (2, 5, 7))
    assert seqs.window_size == 3
    assert seqs.vocab_sha256 == load_vocab(tmp_path / "out" / "vocab.json").sha256
    table = pq.read_table(tmp_path / "out" / "sequences.parquet")
    assert table.schema.field("keys").type == pa.list_(pa.int32())
    assert table.column("n_events").to_pylist() == [3, 3]


def test_build_deeplog_template_column(tmp_path, cli):
    parsed = write_parsed(tmp_path / "parsed.parquet", ["s"], ["open"], template_col="EventTemplate")
    out = tmp_path / "out"
    proc = cli("build-deeplog", "--parsed", parsed, "--out-dir", out, check=False)
    assert proc.returncode == 2
    assert "'template'" in proc.stderr_text and "--template-col" in proc.stderr_text
    assert len(proc.stderr_text.strip().splitlines()) == 1 and not out.exists()
    cli("build-deeplog", "--parsed", parsed, "--out-dir", out, "--template-col", "EventTemplate")
    assert json.loads((out / "vocab.json").read_text()) == {"open": 0}


def test_build_deeplog_refuses_id_column_and_empty_input(tmp_path):
    ids = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"line_no": pa.array([1], pa.int64()), "session": ["s"],
                             "template_id": pa.array([5], pa.int64())}), ids)
    with pytest.raises(UserError, match="not template strings"):
        build_deeplog(BuildDeepLogConfig(parsed=ids, out_dir=tmp_path / "o", template_col="template_id"))
    empty = write_parsed(tmp_path / "empty.parquet", [None], ["x"])
    with pytest.raises(UserError, match="no session"):
        build_deeplog(BuildDeepLogConfig(parsed=empty, out_dir=tmp_path / "o"))
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(UserError, match="not a readable parquet"):
        build_deeplog(BuildDeepLogConfig(parsed=tmp_path / "junk.parquet", out_dir=tmp_path / "o"))


# ---- the decision rule -----------------------------------------------------------------------

def test_windows_are_left_padded_and_skip_unknown():
    pad = 9
    rows = session_windows([3, UNKNOWN, 4, 5], window=3, pad=pad)
    assert rows.tolist() == [[9, 9, 9], [9, 9, 3], [9, 9, 3], [9, 3, 4]]
    assert session_windows([1, 2, 3, 4], 2, pad)[-1].tolist() == [2, 3]


def test_topk_ties_go_to_the_lower_index():
    logits = np.array([[0.5, 2.0, 0.5, 2.0, 0.5]], dtype=np.float32)
    assert topk(logits, 3).tolist() == [[1, 3, 0]]
    assert topk(logits, 10).tolist() == [[1, 3, 0, 2, 4]]


def test_judge_reasons():
    logits = np.array([[3.0, 2.0, 1.0]] * 3, dtype=np.float32)
    v = judge(logits, [1, 2, UNKNOWN], k=2)
    assert v.anomaly.tolist() == [False, True, True]
    assert v.reasons == (REASON_OK, REASON_NOT_IN_TOPK, REASON_UNKNOWN)
    assert v.topk_lists() == [[0, 1], [0, 1], []]


def test_judge_sessions_does_not_depend_on_batch_size():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(6, 5)).astype(np.float32)

    def predict(windows):  # logits from the last key only
        return table[windows[:, -1]]

    sessions = [[0, 1, 2, 3, 4], [4, UNKNOWN, 2], [1]]
    a = judge_sessions(predict, sessions, window=2, pad=5, k=2, batch_size=1)
    b = judge_sessions(predict, sessions, window=2, pad=5, k=2, batch_size=1000)
    for x, y in zip(a, b):
        assert x.topk.tolist() == y.topk.tolist() and x.reasons == y.reasons
    assert a[1].reasons[1] == REASON_UNKNOWN and session_is_anomalous(a[1])


# ---- training and checkpoints ----------------------------------------------------------------

def test_training_is_reproducible(tmp_path):
    vocab_path, seq_path, _ = write_training_data(tmp_path, [CYCLE * 3, CYCLE[:2] + CYCLE * 2])
    first = load_deeplog_checkpoint(train_deeplog(small_config(tmp_path, vocab_path, seq_path,
                                                               out=tmp_path / "a.pth")).checkpoint)
    second = load_deeplog_checkpoint(train_deeplog(small_config(tmp_path, vocab_path, seq_path,
                                                                out=tmp_path / "b.pth")).checkpoint)
    other = load_deeplog_checkpoint(train_deeplog(small_config(tmp_path, vocab_path, seq_path, seed=8,
                                                               out=tmp_path / "c.pth")).checkpoint)
    sa, sb, sc = (m.model.state_dict() for m in (first, second, other))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert first.checkpoint["training"]["losses"] == second.checkpoint["training"]["losses"]


def test_trained_model_catches_an_injected_anomaly(tmp_path):
    vocab_path, seq_path, vocab = write_training_data(tmp_path, [CYCLE * 4] * 3)
    result = train_deeplog(small_config(tmp_path, vocab_path, seq_path, epochs=150))
    assert result.losses[-1] < result.losses[0] / 5
    loaded = load_deeplog_checkpoint(result.checkpoint, vocab_path)
    index = vocab.index()
    normal = [index[t] for t in CYCLE * 2]
    skipped = normal[:5] + normal[6:]  # open read | close: "write" skipped
    unseen = normal[:3] + [UNKNOWN] + normal[3:]
    verdicts = judge_sessions(torch_predictor(loaded.model), [normal, skipped, unseen], window=4,
                              pad=vocab.size, k=1)
    assert not session_is_anomalous(verdicts[0])
    assert verdicts[1].reasons[5] == REASON_NOT_IN_TOPK
    assert verdicts[1].anomaly.tolist().count(True) >= 1
    assert verdicts[2].reasons[3] == REASON_UNKNOWN
    # UNKNOWN is not pushed: the cycle continues to be predicted after it.
    assert verdicts[2].anomaly[4:].tolist() == [False] * 5


def test_cli_training_writes_checkpoint_and_curve(tmp_path, cli):
    vocab_path, seq_path, vocab = write_training_data(tmp_path, [CYCLE * 2])
    out = tmp_path / "models" / "deeplog.pth"
    cli("deeplog-train", "--seq", seq_path, "--vocab", vocab_path, "--out", out, "--hidden", "8",
        "--layers", "1", "--epochs", "2", "--top-k", "2", "--seed", "3", "--no-progress")
    assert (tmp_path / "models" / "deeplog.pth.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["format_version"] == 1 and ckpt["kind"] == "deeplog"
    assert ckpt["vocab_sha256"] == vocab.sha256 and ckpt["vocab_size"] == 4
    assert {k: ckpt["config"][k] for k in ("vocab_size", "window", "hidden", "layers", "top_k", "epochs",
                                           "seed")} == {"vocab_size": 4, "window": 4, "hidden": 8,
                                                        "layers": 1, "top_k": 2, "epochs": 2, "seed": 3}
    assert len(ckpt["training"]["losses"]) == 2 and ckpt["training"]["n_events"] == 8
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["deeplog.pth", "deeplog.pth.png"]


def test_checkpoint_against_another_vocabulary(tmp_path):
    vocab_path, seq_path, _ = write_training_data(tmp_path, [CYCLE * 2])
    ckpt = train_deeplog(small_config(tmp_path, vocab_path, seq_path, epochs=1)).checkpoint
    same_size = tmp_path / "renamed.json"
    save_vocab(same_size, Vocab(("a", "b", "c", "d")))
    bigger = tmp_path / "bigger.json"
    save_vocab(bigger, Vocab(tuple(CYCLE) + ("extra",)))
    for other in (same_size, bigger):
        with pytest.raises(UserError) as err:
            load_deeplog_checkpoint(ckpt, other)
        assert str(ckpt) in err.value.one_line() and str(other) in err.value.one_line()
    assert load_deeplog_checkpoint(ckpt, vocab_path).vocab.size == 4


def test_sequences_from_another_vocabulary_are_refused(tmp_path):
    vocab_path, seq_path, _ = write_training_data(tmp_path, [CYCLE * 2])
    save_vocab(vocab_path, Vocab(("a", "b", "c", "d")))
    with pytest.raises(UserError, match="another vocabulary"):
        train_deeplog(small_config(tmp_path, vocab_path, seq_path))
    assert not (tmp_path / "deeplog.pth").exists()


def test_corrupt_and_foreign_checkpoints(tmp_path, cli):
    (tmp_path / "corrupt.pth").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(UserError, match="not a readable checkpoint"):
        load_deeplog_checkpoint(tmp_path / "corrupt.pth")
    torch.save({"kind": "mscred", "format_version": 1}, tmp_path / "mscred.pth")
    with pytest.raises(UserError, match="not a deeplog checkpoint"):
        load_deeplog_checkpoint(tmp_path / "mscred.pth")
    torch.save(torch.zeros(3), tmp_path / "tensor.pth")
    with pytest.raises(UserError, match="not a deeplog checkpoint"):
        load_deeplog_checkpoint(tmp_path / "tensor.pth")
    with pytest.raises(UserError, match="not found"):
        load_deeplog_checkpoint(tmp_path / "missing.pth")


def test_bad_training_flags_are_user_errors(tmp_path, cli):
    vocab_path, seq_path, _ = write_training_data(tmp_path, [CYCLE])
    proc = cli("deeplog-train", "--seq", seq_path, "--vocab", vocab_path, "--out", tmp_path / "m.pth",
               "--epochs", "0", check=False)
    assert proc.returncode == 2 and "--epochs" in proc.stderr_text and not (tmp_path / "m.pth").exists()
