"""mscred-train: signatures (build-mscred) -> mscred.pth (+ mscred.pth.png).

Model inputs are windows of ``steps`` consecutive signatures inside one segment; the last
``valid_fraction`` of them (the latest in time) is held out. The model is trained to reconstruct
the last step's matrices (mean squared error), then calibrated on the held-out slice, which must
be normal data:

* residual cells ``|recon - last|`` (float32) of every validation input, all scales and cells;
* ``cell_threshold`` = the ``cell_quantile`` quantile of those residuals, as float32;
* score of an input = number of cells with residual strictly greater than ``cell_threshold``;
* ``anomaly_threshold`` = the largest validation score; an input is anomalous when its score is
  strictly greater (so the validation slice itself raises no alarm).

Signatures are normalised by ``norm * norm`` (docs/detection.md 3.2); training takes the Adam steps
of the same network on the count products (``_count_product_groups``), so the normalisation changes
the units of the model's input, output and ``cell_threshold``, not what it learns.

Reproducible: a fixed seed drives initialisation and shuffling, deterministic algorithms on one
thread. Checkpoint (``torch.save`` of a dict; loads with ``weights_only=True``)::

    format_version 2, kind "mscred", config {model fields n, scales, steps, channels; signature
    rule num_templates, window_sizes, step, bucket {unit, size}, norm; training epochs, lr, seed,
    batch_size, valid_fraction, cell_quantile}, state_dict, templates (index order),
    vocab_sha256 (alog_detect.vocab.vocab_sha256 of templates), calibration {cell_threshold,
    anomaly_threshold, cell_quantile, valid_inputs, valid_scores}, training {train_losses,
    valid_losses, data_sha256, train_inputs}, alog_detect_version
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import __version__, atomic
from ..deeplog_data import file_sha256
from ..errors import UserError
from ..models.mscred import EDGE_CHANNELS, MSCRED, MSCREDConfig
from ..mscred_data import NPZ_NAME, SignatureSet, SignatureSpec, load_signatures, residual_scores
from ..vocab import vocab_sha256
from . import checkpoint_bytes, read_checkpoint, render_training_curve, training_curve_path
from .deeplog import _reproducible

# 2: trained on signatures scaled by norm (mscred_data FORMAT_VERSION 2); a version 1 model
# expects raw count products and would misjudge every scaled input.
CHECKPOINT_FORMAT_VERSION = 2
CHECKPOINT_KIND = "mscred"


@dataclass(frozen=True)
class MSCREDTrainConfig:
    data: Path
    out: Path
    epochs: int = 30
    lr: float = 1e-3
    seed: int = 0
    batch_size: int = 16
    channels: tuple[int, int, int, int] = EDGE_CHANNELS
    valid_fraction: float = 0.2
    cell_quantile: float = 0.999
    progress: bool = True

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}",
                                None, "pass a positive value")
        if len(self.channels) != 4 or min(self.channels) < 1:
            raise UserError(f"--channels must be 4 positive integers, got {self.channels}", None,
                            "pass e.g. --channels 32,64,128,256")
        if not self.lr > 0:
            raise UserError(f"--lr must be > 0, got {self.lr}", None, "pass a positive learning rate")
        if not 0 < self.valid_fraction < 1:
            raise UserError(f"--valid-fraction must be in (0, 1), got {self.valid_fraction}", None,
                            "pass e.g. --valid-fraction 0.2")
        if not 0 < self.cell_quantile <= 1:
            raise UserError(f"--cell-quantile must be in (0, 1], got {self.cell_quantile}", None,
                            "pass e.g. --cell-quantile 0.999")


@dataclass(frozen=True)
class Calibration:
    cell_threshold: float       # exactly representable in float32
    anomaly_threshold: int
    cell_quantile: float
    valid_scores: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"cell_threshold": self.cell_threshold, "anomaly_threshold": self.anomaly_threshold,
                "cell_quantile": self.cell_quantile, "valid_inputs": len(self.valid_scores),
                "valid_scores": list(self.valid_scores)}


@dataclass(frozen=True)
class MSCREDTrainResult:
    checkpoint: Path
    curve: Path
    train_losses: tuple[float, ...]
    valid_losses: tuple[float, ...]
    calibration: Calibration
    train_inputs: int


@dataclass(frozen=True)
class LoadedMSCRED:
    """A checkpoint ready for detection or export."""

    model: MSCRED               # in eval mode
    config: MSCREDConfig
    spec: SignatureSpec
    templates: tuple[str, ...]
    vocab_sha256: str
    cell_threshold: float
    anomaly_threshold: int
    checkpoint: dict

    def detection_meta(self) -> dict:
        """What a detector needs besides the graph (export writes it into mscred.onnx.meta.json)."""
        return {**self.spec.to_dict(), "scales": self.spec.scales, "vocab_sha256": self.vocab_sha256,
                "cell_threshold": self.cell_threshold, "anomaly_threshold": self.anomaly_threshold}


# ---- training ------------------------------------------------------------------------------------

def split_sizes(inputs: int, valid_fraction: float) -> tuple[int, int]:
    """(training inputs, validation inputs) of `inputs` model inputs; either may be 0, when they
    cannot be split (then no model can be trained and calibrated)."""
    n_valid = int(round(inputs * valid_fraction))
    return inputs - n_valid, n_valid


def min_trainable_inputs(valid_fraction: float) -> int:
    """The fewest model inputs that split into at least one for training and one for validation."""
    inputs = 2
    while min(split_sizes(inputs, valid_fraction)) < 1:
        inputs += 1
    return inputs


def _split(sigset: SignatureSet, valid_fraction: float, data: Path) -> tuple[np.ndarray, np.ndarray]:
    """Input end indices for training and validation (the latest inputs)."""
    ends = sigset.input_ends()
    n_train, n_valid = split_sizes(len(ends), valid_fraction)
    if n_valid < 1 or n_train < 1:
        raise UserError(f"{len(ends)} model inputs cannot be split into training and validation with a "
                        f"validation share of {valid_fraction}: at least {min_trainable_inputs(valid_fraction)} "
                        "are needed", data / NPZ_NAME,
                        "build more signatures (more lines, a smaller --step or --bucket) or change "
                        "--valid-fraction")
    return ends[:-n_valid], ends[-n_valid:]


def _reconstruct(model: MSCRED, inputs: np.ndarray, batch_size: int) -> np.ndarray:
    """float32 ``(count, scales, n, n)`` reconstructions, batch by batch."""
    reconstruct = torch_reconstructor(model)
    return np.concatenate([reconstruct(inputs[i:i + batch_size]) for i in range(0, len(inputs), batch_size)])


def _mse(model: MSCRED, inputs: np.ndarray, batch_size: int) -> float:
    recon = _reconstruct(model, inputs, batch_size)
    return float(np.mean((recon - inputs[:, -1]).astype(np.float64) ** 2))


# Adam's default epsilon, scaled per parameter group below with the gradients it is added to.
_ADAM_EPS = 1e-8


def _count_product_groups(model: MSCRED, scale: float, lr: float) -> list[dict]:
    """Optimise in count-product units on normalised signatures.

    Signatures are count products divided by ``scale = norm * norm`` (mostly 1e-3 and below), and
    a network at PyTorch's default initialisation barely sees inputs that small next to its biases:
    it learns the mean matrix and little else. So the first layer starts ``scale`` times stronger and
    the last ``scale`` times weaker, and the learning rates and epsilons of those layers follow:
    ``model(x)`` then equals ``scale`` times smaller the model one would train on ``x * scale``, and
    each Adam step is that model's step, in the same units. The graph stays the same network; only
    its weights differ.
    """
    first, last = [model.enc1.weight], [model.dec1.weight, model.dec1.bias]
    with torch.no_grad():
        model.enc1.weight.mul_(scale)
        for p in last:
            p.div_(scale)
    scaled = {id(p) for p in first + last}
    rest = [p for p in model.parameters() if id(p) not in scaled]
    # Gradients in these units are 1/scale^2 (rest), 1/scale^3 (first), 1/scale (last) of the others.
    return [{"params": rest, "lr": lr, "eps": _ADAM_EPS / scale ** 2},
            {"params": first, "lr": lr * scale, "eps": _ADAM_EPS / scale ** 3},
            {"params": last, "lr": lr / scale, "eps": _ADAM_EPS / scale}]


def _run_epochs(model: MSCRED, train: np.ndarray, valid: np.ndarray, config: MSCREDTrainConfig,
                norm: int, generator: torch.Generator) -> tuple[list[float], list[float]]:
    from tqdm import tqdm

    optimizer = torch.optim.Adam(_count_product_groups(model, float(norm * norm), config.lr))
    data = torch.from_numpy(train)
    train_losses, valid_losses = [], []
    bar = tqdm(range(config.epochs), desc="mscred-train", unit="epoch", disable=not config.progress)
    for _ in bar:
        model.train()
        order = torch.randperm(len(data), generator=generator)
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            batch = data[order[start:start + config.batch_size]]
            loss = torch.mean((model(batch) - batch[:, -1]) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        model.eval()
        train_losses.append(total / len(data))
        valid_losses.append(_mse(model, valid, config.batch_size))
        bar.set_postfix(loss=f"{train_losses[-1]:.4g}", valid=f"{valid_losses[-1]:.4g}")
    return train_losses, valid_losses


def calibrate(model: MSCRED, valid: np.ndarray, cell_quantile: float, batch_size: int) -> Calibration:
    """Thresholds from normal validation inputs (see the module doc)."""
    recon = _reconstruct(model, valid, batch_size)
    residual = np.abs(recon - valid[:, -1])
    cell_threshold = float(np.float32(np.quantile(residual, cell_quantile)))
    scores = residual_scores(recon, valid[:, -1], cell_threshold)
    return Calibration(cell_threshold, int(scores.max()), cell_quantile, tuple(int(s) for s in scores))


def _checkpoint(model: MSCRED, config: MSCREDTrainConfig, sigset: SignatureSet, calibration: Calibration,
                losses: tuple[list[float], list[float]], train_inputs: int) -> dict:
    hyper = {"epochs": config.epochs, "lr": config.lr, "seed": config.seed, "batch_size": config.batch_size,
             "valid_fraction": config.valid_fraction, "cell_quantile": config.cell_quantile,
             "optimizer": "adam"}
    model_fields = dataclasses.asdict(model.config)
    model_fields["channels"] = list(model_fields["channels"])
    return {
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "kind": CHECKPOINT_KIND,
        "config": {**model_fields, **sigset.spec.to_dict(), **hyper},
        "state_dict": model.state_dict(),
        "templates": list(sigset.templates),
        "vocab_sha256": vocab_sha256(sigset.templates),
        "calibration": calibration.to_dict(),
        "training": {"train_losses": losses[0], "valid_losses": losses[1], "train_inputs": train_inputs,
                     "data_sha256": file_sha256(Path(config.data) / NPZ_NAME)},
        "alog_detect_version": __version__,
    }


def train_mscred(config: MSCREDTrainConfig) -> MSCREDTrainResult:
    sigset = load_signatures(config.data)
    train_ends, valid_ends = _split(sigset, config.valid_fraction, Path(config.data))
    train, valid = sigset.inputs(train_ends), sigset.inputs(valid_ends)
    spec = sigset.spec
    model_config = MSCREDConfig(n=spec.n, scales=spec.scales, steps=spec.steps, channels=tuple(config.channels))
    with _reproducible(config.seed) as generator:
        model = MSCRED(model_config)
        losses = _run_epochs(model, train, valid, config, spec.norm, generator)
        calibration = calibrate(model, valid, config.cell_quantile, config.batch_size)
    ckpt = _checkpoint(model, config, sigset, calibration, losses, len(train))

    curve = training_curve_path(config.out)
    title = (f"MSCRED ({spec.num_templates} templates, n={spec.n}, {len(train)} inputs; "
             f"valid MSE {losses[1][-1]:.3g})")
    with atomic.atomic_path(config.out) as ckpt_tmp, atomic.atomic_path(curve) as curve_tmp:
        render_training_curve(curve_tmp, losses[0], title, "training MSE")
        ckpt_tmp.write_bytes(checkpoint_bytes(ckpt))
    return MSCREDTrainResult(Path(config.out), curve, tuple(losses[0]), tuple(losses[1]), calibration, len(train))


# ---- loading -------------------------------------------------------------------------------------

_FIX = "pass an mscred.pth written by `alog-detect mscred-train`, or retrain"


def _read_checkpoint(path: Path) -> dict:
    ckpt = read_checkpoint(path, CHECKPOINT_KIND, CHECKPOINT_FORMAT_VERSION,
                           {"config", "state_dict", "templates", "vocab_sha256", "calibration"}, _FIX)
    if vocab_sha256(ckpt["templates"]) != ckpt["vocab_sha256"]:
        raise UserError("checkpoint's template list does not match its vocab_sha256 (corrupt file)", path, _FIX)
    return ckpt


def load_mscred_checkpoint(path: str | Path) -> LoadedMSCRED:
    """Load an MSCRED checkpoint (eval mode) with its signature rule and calibration."""
    path = Path(path)
    ckpt = _read_checkpoint(path)
    cfg, cal = ckpt["config"], ckpt["calibration"]
    try:
        spec = SignatureSpec.from_dict(cfg)
        model_config = MSCREDConfig(n=int(cfg["n"]), scales=int(cfg["scales"]), steps=int(cfg["steps"]),
                                    channels=tuple(int(c) for c in cfg["channels"]))
        if (model_config.n, model_config.scales, model_config.steps) != (spec.n, spec.scales, spec.steps):
            raise ValueError("model shape and signature rule disagree")
        if spec.num_templates != len(ckpt["templates"]):
            raise ValueError("num_templates and the template list disagree")
        model = MSCRED(model_config)
        model.load_state_dict(ckpt["state_dict"])
        cell_threshold, anomaly_threshold = float(cal["cell_threshold"]), int(cal["anomaly_threshold"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UserError(f"checkpoint does not describe an MSCRED model ({exc})", path,
                        "retrain with `alog-detect mscred-train`") from None
    model.eval()
    return LoadedMSCRED(model, model_config, spec, tuple(ckpt["templates"]), ckpt["vocab_sha256"],
                        cell_threshold, anomaly_threshold, ckpt)


def torch_reconstructor(model: MSCRED):
    """inputs float32 ``(batch, steps, scales, n, n)`` -> reconstructions ``(batch, scales, n, n)``."""
    def reconstruct(inputs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))).numpy()
    return reconstruct
