"""The training loop shared by the denoiser and segmenter scripts (imports torch).

Deterministic for a given seed and thread count on one machine: numpy draws
the batches, crops, flips and intensity jitter; torch is seeded and runs
deterministic kernels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from fastscan.models.nets import ResAttUNet
from fastscan.models.torch_unet import _CLIP, IN_CHANNELS, save_checkpoint

__all__ = ["LoopConfig", "TrainerConfig", "fit", "save_trained", "train_network"]

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LoopConfig:
    """Optimisation settings (stored with the weights)."""

    steps: int = 2500
    batch: int = 12
    crop: int = 96
    lr: float = 2e-3
    warmup: int = 50
    widths: tuple[int, int, int] = (16, 32, 48)
    jitter_scale: float = 1.3  # normalised intensities scaled by a factor in [1/j, j]
    jitter_offset: float = 0.15  # and shifted by up to this much
    eval_every: int = 250


class TrainerConfig(Protocol):
    """What :func:`fit` and :func:`save_trained` read of a trainer's frozen config dataclass."""

    @property
    def seed(self) -> int: ...
    @property
    def steps(self) -> int: ...
    @property
    def batch(self) -> int: ...
    @property
    def crop(self) -> int: ...
    @property
    def lr(self) -> float: ...
    @property
    def widths(self) -> tuple[int, int, int]: ...
    @property
    def val_fraction(self) -> float: ...


def _batch(
    inputs: np.ndarray,
    targets: np.ndarray,
    index: np.ndarray,
    config: LoopConfig,
    rng: np.random.Generator,
    jitter_targets: bool,
) -> tuple[torch.Tensor, ...]:
    size = inputs.shape[-1]
    crop = min(config.crop, size)
    xs, ts = [], []
    for i in index:
        r, c = rng.integers(0, size - crop + 1, 2)
        xs.append(inputs[i, :, r : r + crop, c : c + crop])
        ts.append(targets[i, :, r : r + crop, c : c + crop])
    x = np.stack(xs).astype(np.float32)
    t = np.stack(ts).astype(np.float32)
    if rng.random() < 0.5:
        x, t = x.swapaxes(-1, -2), t.swapaxes(-1, -2)
    if rng.random() < 0.5:
        x, t = x[..., ::-1, :], t[..., ::-1, :]
    if rng.random() < 0.5:
        x, t = x[..., ::-1], t[..., ::-1]
    n = len(index)
    scale = np.exp(rng.uniform(-1, 1, n) * math.log(config.jitter_scale)).astype(np.float32)
    offset = rng.uniform(-config.jitter_offset, config.jitter_offset, n).astype(np.float32)
    x = np.ascontiguousarray(x)
    t = np.ascontiguousarray(t)
    x[:, 0] = x[:, 0] * scale[:, None, None] + offset[:, None, None]
    if jitter_targets:
        t = t * scale[:, None, None, None] + offset[:, None, None, None]
    raw = torch.from_numpy(x[:, :1].copy())
    x[:, 0] = np.clip(x[:, 0], *_CLIP)
    return torch.from_numpy(x), raw, torch.from_numpy(t)


def train_network(
    inputs: np.ndarray,
    targets: np.ndarray,
    loss_fn: LossFn,
    config: LoopConfig,
    seed: int,
    jitter_targets: bool,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[ResAttUNet, dict]:
    """Fit a :class:`ResAttUNet` with Adam and a warm-up + cosine learning rate.

    Parameters
    ----------
    inputs : (N, 3, S, S) float32 network inputs (channel 0 not yet clipped).
    targets : (N, T, S, S) float32 targets; T is the number of output channels.
    loss_fn : ``loss_fn(output, raw_x, inputs, targets)`` -> scalar tensor.
    config : LoopConfig
    seed : int
    jitter_targets : bool
        Apply the intensity jitter to the targets too (denoiser) or not (segmenter).
    val : optional (inputs, targets) evaluated every ``config.eval_every`` steps.

    Returns
    -------
    net : the trained network (eval mode).
    history : losses and timings.
    """
    if inputs.ndim != 4 or inputs.shape[1] != IN_CHANNELS:
        raise ValueError(f"inputs must be (N, {IN_CHANNELS}, S, S), got {inputs.shape}")
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(seed)
    net = ResAttUNet(IN_CHANNELS, targets.shape[1], config.widths)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)

    def lr_at(step: int) -> float:
        if step < config.warmup:
            return config.lr * (step + 1) / config.warmup
        progress = (step - config.warmup) / max(1, config.steps - config.warmup)
        return config.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))

    history: dict = {
        "train": [],
        "val": [],
        "n_parameters": sum(p.numel() for p in net.parameters()),
    }
    start = time.perf_counter()
    running = 0.0
    for step in range(config.steps):
        net.train()
        index = rng.integers(0, len(inputs), config.batch)
        x, raw, t = _batch(inputs, targets, index, config, rng, jitter_targets)
        for group in optimiser.param_groups:
            group["lr"] = lr_at(step)
        loss = loss_fn(net(x), raw, x, t)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        running += float(loss.detach())
        if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
            n_done = (step + 1) % config.eval_every or config.eval_every
            entry = {"step": step + 1, "loss": running / n_done}
            history["train"].append(entry)
            running = 0.0
            if val is not None:
                entry["val"] = evaluate(net, *val, loss_fn)
            log(
                f"step {step + 1}/{config.steps} loss {entry['loss']:.5f}"
                + (f" val {entry['val']:.5f}" if "val" in entry else "")
                + f" ({time.perf_counter() - start:.0f} s)"
            )
    net.eval()
    history["train_seconds"] = time.perf_counter() - start
    return net, history


def evaluate(
    net: torch.nn.Module, inputs: np.ndarray, targets: np.ndarray, loss_fn: LossFn
) -> float:
    """Mean loss over full-size validation states (no crop, no jitter)."""
    net.eval()
    losses = []
    with torch.inference_mode():
        for i in range(0, len(inputs), 8):
            x = torch.from_numpy(inputs[i : i + 8].astype(np.float32))
            raw = x[:, :1].clone()
            x[:, 0] = x[:, 0].clamp(*_CLIP)
            t = torch.from_numpy(targets[i : i + 8].astype(np.float32))
            losses.append(float(loss_fn(net(x), raw, x, t)) * len(x))
    return sum(losses) / len(inputs)


def fit(
    config: TrainerConfig,
    inputs: np.ndarray,
    targets: np.ndarray,
    loss_fn: LossFn,
    *,
    jitter_targets: bool,
    log: Callable[[str], None] = print,
) -> tuple[ResAttUNet, dict, tuple[np.ndarray, np.ndarray]]:
    """Hold the first ``config.val_fraction`` of the (shuffled) states out and train on the rest.

    Parameters
    ----------
    config : TrainerConfig
        The trainer's config: its seed, optimiser settings and validation fraction.
    inputs, targets : np.ndarray
        All training states, as :func:`train_network` takes them, already shuffled.
    loss_fn : LossFn
        As :func:`train_network` takes it.
    jitter_targets : bool
        As :func:`train_network` takes it.
    log : callable
        Progress lines.

    Returns
    -------
    net : ResAttUNet
        The trained network (eval mode).
    history : dict
        Losses and timings (:func:`train_network`).
    val : tuple of np.ndarray
        The held-out (inputs, targets), at least one state.
    """
    n_val = max(1, int(config.val_fraction * len(inputs)))
    val = (inputs[:n_val], targets[:n_val])
    loop = LoopConfig(
        steps=config.steps, batch=config.batch, crop=config.crop, lr=config.lr, widths=config.widths
    )
    net, history = train_network(
        inputs[n_val:], targets[n_val:], loss_fn, loop, config.seed,
        jitter_targets=jitter_targets, val=val, log=log,
    )  # fmt: skip
    return net, history, val


def save_trained(
    out: Path,
    net: ResAttUNet,
    kind: str,
    config: TrainerConfig,
    stats: dict[str, Any],
    history: dict[str, Any],
    threads: int,
    log: Callable[[str], None] = print,
    gate: float = 0.0,
) -> dict:
    """Write the weights of a ``python -m fastscan.models.train_<kind>`` run with its record.

    Parameters
    ----------
    out : Path
        The weights file.
    net : ResAttUNet
        The trained network.
    kind : {"denoiser", "segmenter"}
        The model kind (the checkpoint's tag, the record's ``model`` ``unet-<kind>``).
    config : TrainerConfig
        The trainer's config dataclass, stored whole.
    stats : dict
        The training states' statistics (the record's ``data``).
    history : dict
        The training's losses and timings.
    threads : int
        The torch CPU threads it trained with.
    log : callable
        The line naming the file written.
    gate : float
        The denoiser's activity gate (:func:`fastscan.models.torch_unet.save_checkpoint`).

    Returns
    -------
    dict
        The training record stored in the weights file.
    """
    info = {
        "model": f"unet-{kind}",
        "config": asdict(config),
        "data": stats,
        "history": history,
        "threads": threads,
        "torch": torch.__version__,
        "command": f"python -m fastscan.models.train_{kind} --out {out} --seed {config.seed}",
    }
    save_checkpoint(out, net, kind, config.widths, info, gate=gate)
    log(f"wrote {out} ({Path(out).stat().st_size / 1e3:.0f} kB)")
    return info
