"""Vocabulary formats, their canonical hash, the id-keyed refusal and `alog-detect fix-vocab`."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alog_detect.errors import UserError
from alog_detect.vocab import (Vocab, load_any_vocab, load_engine_vocab, load_vocab, looks_id_keyed,
                               save_engine_vocab, save_vocab, vocab_sha256)


def write_parsed(path, rows):
    """rows: (line_no, session, template, template_id)."""
    line_no, session, template, template_id = map(list, zip(*rows))
    pq.write_table(pa.table({"line_no": pa.array(line_no, pa.int64()), "source": ["x.log"] * len(rows),
                             "session": session, "template": template,
                             "template_id": pa.array(template_id, pa.int64())}), path)
    return path


def test_hash_is_of_the_canonical_template_list():
    expected = hashlib.sha256('["a <*>","b é"]'.encode("utf-8")).hexdigest()
    assert vocab_sha256(["a <*>", "b é"]) == expected
    assert Vocab(("a <*>", "b é")).sha256 == expected
    assert vocab_sha256(["b é", "a <*>"]) != expected


def test_both_formats_round_trip_and_hash_alike(tmp_path):
    vocab = Vocab(("Receiving block <*>", "PacketResponder <*> terminating", 'quote " and \\'))
    save_vocab(tmp_path / "train.json", vocab)
    save_engine_vocab(tmp_path / "engine.json", vocab)
    assert json.loads((tmp_path / "train.json").read_text()) == {
        "Receiving block <*>": 0, "PacketResponder <*> terminating": 1, 'quote " and \\': 2}
    assert json.loads((tmp_path / "engine.json").read_text()) == {
        "0": "Receiving block <*>", "1": "PacketResponder <*> terminating", "2": 'quote " and \\'}
    assert load_vocab(tmp_path / "train.json") == vocab
    assert load_engine_vocab(tmp_path / "engine.json") == vocab
    assert load_any_vocab(tmp_path / "engine.json").sha256 == load_any_vocab(tmp_path / "train.json").sha256
    # Re-indenting the file does not change the hash: it is of the content, not the bytes.
    (tmp_path / "compact.json").write_text(json.dumps(vocab.training_format(), separators=(",", ":")))
    assert load_vocab(tmp_path / "compact.json").sha256 == vocab.sha256


def test_training_order_is_descending_count_then_text():
    assert Vocab.from_counts({"b": 2, "a": 2, "c": 5, "d": 1}).templates == ("c", "a", "b", "d")


@pytest.mark.parametrize("keys", [["E5", "E22", "E11"], ["5", "22"], ["T1", "T12"], ["cluster_3", "cluster_4"]])
def test_id_keys_are_recognised(keys):
    assert looks_id_keyed(keys)


@pytest.mark.parametrize("keys", [["Receiving block <*>", "E5"], ["<*>", "5 <*>"], []])
def test_template_keys_are_not_id_keys(keys):
    assert not looks_id_keyed(keys)


def test_id_keyed_vocabulary_is_refused_naming_fix_vocab(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps({"E5": 0, "E22": 1}))
    with pytest.raises(UserError) as err:
        load_vocab(path)
    assert "fix-vocab" in err.value.fix and str(path) in err.value.one_line()


@pytest.mark.parametrize("content, words", [
    ({"0": "a", "1": "b"}, "engine vocabulary"),
    ({"a": 0, "b": 2}, "0..1"),
    ({"a": 0, "b": 0}, "0..1"),
    ({"a": "x", "b": 1}, "integer"),
    ([], "non-empty JSON object"),
])
def test_malformed_training_vocabularies(tmp_path, content, words):
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps(content))
    with pytest.raises(UserError, match=words):
        load_vocab(path)


def test_unreadable_vocabularies(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_vocab(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_bytes(b"{\"a\": 0,")
    with pytest.raises(UserError, match="not a JSON vocabulary"):
        load_vocab(tmp_path / "bad.json")


def test_fix_vocab_round_trip_keeps_indices(tmp_path, cli):
    parsed = write_parsed(tmp_path / "parsed.parquet", [
        (1, "blk_1", "Receiving block <*>", 5), (2, "blk_1", "allocateBlock <*>", 22),
        (3, "blk_2", "Receiving block <*>", 5), (4, "blk_2", "PacketResponder <*>", 11)])
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"E5": 0, "E11": 2, "E22": 1}))
    refused = cli("deeplog-train", "--seq", tmp_path / "none.parquet", "--vocab", old,
                  "--out", tmp_path / "m.pth", check=False)
    assert refused.returncode == 2 and "fix-vocab" in refused.stderr_text

    cli("fix-vocab", "--parsed", parsed, "--old-vocab", old, "--output", tmp_path / "vocab.json")
    assert json.loads((tmp_path / "vocab.json").read_text()) == {
        "Receiving block <*>": 0, "allocateBlock <*>": 1, "PacketResponder <*>": 2}
    assert load_vocab(tmp_path / "vocab.json").templates == (
        "Receiving block <*>", "allocateBlock <*>", "PacketResponder <*>")


def test_fix_vocab_errors(tmp_path, cli):
    parsed = write_parsed(tmp_path / "parsed.parquet", [(1, "blk_1", "Receiving block <*>", 5)])
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"E5": 0, "E9": 1}))
    out = tmp_path / "vocab.json"
    missing = cli("fix-vocab", "--parsed", parsed, "--old-vocab", old, "--output", out, check=False)
    assert missing.returncode == 2 and "E9" in missing.stderr_text and not out.exists()

    old.write_text(json.dumps({"Receiving block <*>": 0}))
    not_ids = cli("fix-vocab", "--parsed", parsed, "--old-vocab", old, "--output", out, check=False)
    assert not_ids.returncode == 2 and "not keyed by template ids" in not_ids.stderr_text

    old.write_text(json.dumps({"E5": 0}))
    pq.write_table(pa.table({"template": ["x"]}), tmp_path / "no_ids.parquet")
    no_col = cli("fix-vocab", "--parsed", tmp_path / "no_ids.parquet", "--old-vocab", old, "--output", out,
                 check=False)
    assert no_col.returncode == 2 and "template_id" in no_col.stderr_text and not out.exists()
