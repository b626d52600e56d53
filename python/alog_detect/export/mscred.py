"""MSCRED's export plan: input ``x`` float32 (batch, steps, scales, n, n), output ``recon``
float32 (batch, scales, n, n); scoring stays outside the graph (mscred_data.residual_scores)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..mscred_data import NPZ_NAME, SignatureSpec, load_signatures, residual_scores, signature_matrices
from ..vocab import Vocab
from .config import MSCRED_ONNX, ExportConfig
from .exporters import GraphSignature
from .plan import ModelPlan, find_training_data, real_count, spread, training_block
from .validate import Decision, ValidationInputs

SIGNATURE = GraphSignature("x", "recon")


def plan_mscred(config: ExportConfig, vocab: Vocab) -> ModelPlan:
    import torch

    from ..models.mscred import MSCRED
    from ..train.mscred import load_mscred_checkpoint

    path = Path(config.mscred_model)
    loaded = load_mscred_checkpoint(path)
    _check_vocab(loaded, path, vocab, config.vocab)
    # The convolutions and ConvLSTMs are size-agnostic: only the static reshapes depend on n and
    # steps, so the same weights export at another matrix side or window.
    n = config.feature_dim or loaded.config.n
    steps = config.window_size or loaded.config.steps
    if n < loaded.spec.num_templates:
        raise UserError(f"--feature-dim {n} is smaller than the model's {loaded.spec.num_templates} "
                        "templates", path, f"pass --feature-dim {loaded.config.n} or more")
    shape_config = dataclasses.replace(loaded.config, n=n, steps=steps)
    model = MSCRED(shape_config)
    model.load_state_dict(loaded.model.state_dict())
    model.eval()

    # The signature rule at the exported shape (SignatureSpec.side is the padded matrix side).
    spec = dataclasses.replace(loaded.spec, side=n, steps=steps)
    section = {**loaded.detection_meta(), **spec.to_dict(), "trained_n": loaded.config.n,
               "trained_steps": loaded.config.steps, "channels": list(shape_config.channels)}

    def decide(x, recon):
        return residual_scores(recon, x[:, -1], loaded.cell_threshold) > loaded.anomaly_threshold

    def borderline(x, recon, margin):
        # the cells over the threshold however the reconstruction moves by `margin`, and those
        # that could be: the decision can flip when the anomaly threshold lies between the counts
        residual = np.abs(np.asarray(recon, dtype=np.float64) - np.asarray(x[:, -1], dtype=np.float64))
        cell = float(np.float32(loaded.cell_threshold))
        sure = (residual > cell + margin).sum(axis=(1, 2, 3))
        maybe = (residual >= cell - margin).sum(axis=(1, 2, 3))
        return (sure <= loaded.anomaly_threshold) & (maybe > loaded.anomaly_threshold)

    data = _training_data(config, path, vocab_dir=Path(config.vocab).parent, ckpt=loaded.checkpoint)

    def validation_inputs(total: int) -> ValidationInputs:
        return _inputs(data, loaded.spec, steps, n, total)

    return ModelPlan(
        kind="mscred", onnx_name=MSCRED_ONNX, checkpoint=path, model=model,
        example=torch.zeros((2, steps, shape_config.scales, n, n)), signature=SIGNATURE,
        section=section, training=training_block(path, loaded.checkpoint),
        decision=Decision("anomaly decisions", decide, borderline), validation_inputs=validation_inputs)


def _check_vocab(loaded, path: Path, vocab: Vocab, vocab_path: Path) -> None:
    # The engine counts MSCRED's events by the one vocabulary of the model directory, so the
    # signature rows must be indexed by exactly that vocabulary.
    if loaded.vocab_sha256 != vocab.sha256:
        raise UserError(f"checkpoint {path} was trained on signatures over another template list "
                        f"({len(loaded.templates)} templates, sha256 {loaded.vocab_sha256[:12]}) than "
                        f"{vocab_path} ({vocab.size} templates, sha256 {vocab.sha256[:12]})", vocab_path,
                        f"rebuild the signatures with `alog-detect build-mscred --vocab {vocab_path}` "
                        "and retrain, or pass the matching vocabulary")


def _training_data(config: ExportConfig, checkpoint: Path, vocab_dir: Path, ckpt: dict) -> Path | None:
    if config.mscred_data is not None:
        return Path(config.mscred_data)
    # build-mscred's --out-dir is usually the checkpoint's directory or one below it.
    candidates = [checkpoint.parent / NPZ_NAME, vocab_dir / NPZ_NAME,
                  *sorted(checkpoint.parent.glob(f"*/{NPZ_NAME}"))]
    found = find_training_data(candidates, ckpt.get("training", {}).get("data_sha256"))
    return found.parent if found else None


def _inputs(data: Path | None, spec: SignatureSpec, steps: int, n: int, total: int) -> ValidationInputs:
    real = np.empty((0, steps, spec.scales, n, n), dtype=np.float32)
    source = "none: no signatures.npz of the training data found near the checkpoint (--mscred-data)"
    if data is not None:
        real = spread(_real_windows(Path(data), spec.scales, steps, n), real_count(total))
        source = f"{Path(data).name}/{NPZ_NAME}"
    return ValidationInputs(np.concatenate([real, _random_windows(spec, steps, n, total - len(real))]),
                            len(real), source)


def _real_windows(data: Path, scales: int, steps: int, n: int) -> np.ndarray:
    sigset = load_signatures(data)
    sigset = dataclasses.replace(sigset, spec=dataclasses.replace(sigset.spec, steps=steps))
    windows = sigset.inputs(sigset.input_ends())
    side = windows.shape[-1]
    if side > n or windows.shape[2] != scales:
        raise UserError(f"signatures are {windows.shape[2]} x {side} x {side}, the model takes "
                        f"{scales} x {n} x {n}", data / NPZ_NAME,
                        "pass the signatures the model was trained on (--mscred-data)")
    # Rows past the template count are zero padding, as the engine pads them.
    padded = np.zeros((len(windows), steps, scales, n, n), dtype=np.float32)
    padded[..., :side, :side] = windows
    return padded


def _random_windows(spec: SignatureSpec, steps: int, n: int, count: int) -> np.ndarray:
    """Signature matrices of random Poisson count series, through the real signature rule: inputs
    on the scale and sparsity of real ones (uniform noise over every cell would drive the
    activations far beyond anything the model sees)."""
    rng = np.random.default_rng(0)
    rate = spec.norm / spec.num_templates  # norm: the largest bucket total (module doc of mscred_data)
    span = spec.history + (steps - 1) * spec.step
    out = np.empty((count, steps, spec.scales, n, n), dtype=np.float32)
    for i in range(count):
        counts = rng.poisson(rate, size=(span, spec.num_templates))
        for s in range(steps):
            out[i, s] = signature_matrices(counts[:spec.history + s * spec.step], spec.window_sizes, n, spec.norm)
    return out
