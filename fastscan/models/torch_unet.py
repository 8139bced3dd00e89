"""Learned models: the U-Net denoiser and segmenter (torch is imported only when one is created).

Weights are plain state dicts saved with ``torch.save`` and read back with
``torch.load(..., weights_only=True)`` (no pickled code), next to a format tag,
the architecture and a JSON record of how they were trained. The shipped files
are in ``fastscan/models/weights/``; ``python -m fastscan.models.train_denoiser``
and ``python -m fastscan.models.train_segmenter`` rebuild them.

On a GPU the forward pass runs under ``torch.autocast`` (float16); on the CPU
in float32.

Examples
--------
>>> import numpy as np
>>> from fastscan.models import create_model
>>> model = create_model("unet-denoiser", device="cpu")  # doctest: +SKIP
>>> rng = np.random.default_rng(0)
>>> mask = rng.random((64, 64)) < 0.2
>>> model(np.where(mask, 100.0, 0.0), mask).shape  # doctest: +SKIP
(64, 64)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from fastscan.models.protocols import check_frame, denormalise, normalise

if TYPE_CHECKING:
    import torch

__all__ = [
    "FORMAT",
    "WEIGHTS_DIR",
    "UNetDenoiser",
    "UNetSegmenter",
    "labels_from_probabilities",
    "load_checkpoint",
    "network_inputs",
    "save_checkpoint",
]

FORMAT = "fastscan.unet/1"
WEIGHTS_DIR = Path(__file__).with_name("weights")
DEFAULT_WEIGHTS = {"denoiser": "unet_denoiser.pt", "segmenter": "unet_segmenter.pt"}
OUT_CHANNELS = {"denoiser": 1, "segmenter": 2}
IN_CHANNELS = 3
DEFAULT_TTA = 2  # the denoiser's test-time flips (see UNetDenoiser)
_CLIP = (-2.0, 4.0)  # normalised intensities outside this range carry no extra information
_MULTIPLE = 4  # two 2x poolings
_FLIPS: tuple[tuple[int, ...], ...] = ((), (2, 3), (2,), (3,))  # test-time flips of (N, C, H, W)


def network_inputs(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The (3, H, W) float32 network input of a normalised frame.

    Channels: the normalised reconstruction (clipped to [-2, 4]); the measured
    mask (0/1); tanh(d / 8) with d the distance to the nearest measured pixel.
    """
    distance = ndimage.distance_transform_edt(~mask)
    return np.stack([np.clip(x, *_CLIP), mask.astype(np.float32), np.tanh(distance / 8.0)]).astype(
        np.float32
    )


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the U-Net models need PyTorch: pip install 'fastscan[torch]' (or pip install torch)"
        ) from exc
    return torch


def save_checkpoint(
    path: str | Path,
    net: torch.nn.Module,
    kind: str,
    widths: tuple[int, ...],
    info: dict,
    gate: float = 0.0,
) -> Path:
    """Write ``net``'s weights with the format tag, architecture and a JSON ``info`` record.

    ``gate`` is the denoiser's activity-gate threshold (see
    :func:`fastscan.models.nets.activity_gate`); 0 for none.
    """
    torch = _torch()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", torch.float32).contiguous() for k, v in net.state_dict().items()
    }
    torch.save(
        {
            "format": FORMAT,
            "kind": kind,
            "in_channels": IN_CHANNELS,
            "out_channels": OUT_CHANNELS[kind],
            "widths": [int(w) for w in widths],
            "gate": float(gate),
            "info": json.dumps(info, sort_keys=True),
            "state_dict": state,
        },
        path,
    )
    return path


def load_checkpoint(path: str | Path, kind: str) -> tuple[torch.nn.Module, dict, float]:
    """Read a weights file and build the network, checking format, kind and every tensor shape.

    Returns
    -------
    net : ResAttUNet in eval mode on the CPU.
    info : the training record stored with the weights.
    gate : the activity-gate threshold of a denoiser (0: none).

    Raises
    ------
    ValueError
        Missing or unreadable file, another format or version, a model of another
        kind, or parameters that do not fit the architecture.
    """
    torch = _torch()
    from fastscan.models.nets import ResAttUNet

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"model file {str(path)!r} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"model file {str(path)!r} is not a readable fastscan weights file ({exc})"
        ) from exc
    fmt = checkpoint.get("format") if isinstance(checkpoint, dict) else None
    if fmt != FORMAT:
        raise ValueError(
            f"model file {str(path)!r} has format {fmt!r}; this fastscan reads {FORMAT!r}"
        )
    if checkpoint.get("kind") != kind:
        raise ValueError(
            f"model file {str(path)!r} holds a {checkpoint.get('kind')!r} model, not a {kind!r}"
        )
    if (checkpoint.get("in_channels"), checkpoint.get("out_channels")) != (
        IN_CHANNELS,
        OUT_CHANNELS[kind],
    ):
        raise ValueError(
            f"model file {str(path)!r} has {checkpoint.get('in_channels')} -> "
            f"{checkpoint.get('out_channels')} channels; a {kind} needs "
            f"{IN_CHANNELS} -> {OUT_CHANNELS[kind]}"
        )
    widths = tuple(checkpoint.get("widths", ()))
    if len(widths) != 3 or not all(isinstance(w, int) and 0 < w <= 512 for w in widths):
        raise ValueError(f"model file {str(path)!r} has invalid widths {widths!r}")
    net = ResAttUNet(IN_CHANNELS, OUT_CHANNELS[kind], widths)
    expected = net.state_dict()
    state = checkpoint.get("state_dict", {})
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise ValueError(
            f"model file {str(path)!r} does not fit the network: missing {missing[:3]}, "
            f"unexpected {extra[:3]}"
        )
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise ValueError(
                f"model file {str(path)!r}: parameter {key!r} has shape "
                f"{tuple(state[key].shape)}, the network expects {tuple(tensor.shape)}"
            )
    gate = checkpoint.get("gate", 0.0)
    if not (isinstance(gate, float) and 0.0 <= gate < 10.0):
        raise ValueError(f"model file {str(path)!r} has invalid gate {gate!r}; need a float >= 0")
    net.load_state_dict(state)
    net.eval()
    return net, json.loads(checkpoint.get("info", "{}")), gate


def _pad_to_multiple(array: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    n_rows, n_cols = array.shape[-2:]
    pad_r, pad_c = (-n_rows) % _MULTIPLE, (-n_cols) % _MULTIPLE
    if pad_r or pad_c:
        array = np.pad(array, [(0, 0)] * (array.ndim - 2) + [(0, pad_r), (0, pad_c)], "reflect")
    return array, (n_rows, n_cols)


class _TorchModel:
    kind = "denoiser"

    def __init__(
        self,
        weights: str | Path | None = None,
        device: str = "auto",
        amp: bool = True,
        tta: int = 1,
    ) -> None:
        if tta not in (1, 2, 4):
            raise ValueError(f"tta (test-time flips) must be 1, 2 or 4, got {tta!r}")
        self.tta = int(tta)
        torch = _torch()
        self._torch = torch
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self.device = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:n]', got {device!r}") from exc
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but torch sees no CUDA GPU")
        self.weights = (
            Path(weights) if weights is not None else WEIGHTS_DIR / DEFAULT_WEIGHTS[self.kind]
        )
        net, self.info, self.gate = load_checkpoint(self.weights, self.kind)
        self.net = net.to(self.device)
        self.amp = bool(amp) and self.device.type == "cuda"

    def _forward(self, inputs: np.ndarray, tta: int = 1) -> np.ndarray:
        """Run the network on a (C, H, W) array; float32 (C_out, H, W) result.

        ``tta`` > 1 averages the outputs over flipped copies of the input
        (2: + rotation by 180 degrees; 4: + up-down and left-right flips).
        """
        torch = self._torch
        padded, (n_rows, n_cols) = _pad_to_multiple(inputs)
        tensor = torch.from_numpy(np.ascontiguousarray(padded))[None].to(self.device)
        flips = _FLIPS[:tta]
        with torch.inference_mode():
            batch = torch.cat([tensor.flip(f) if f else tensor for f in flips])
            if self.amp:
                with torch.autocast(device_type="cuda", dtype=torch.float16):
                    out = self.net(batch).float()
            else:
                out = self.net(batch)
            out = torch.stack([o.flip([d - 1 for d in f]) if f else o for o, f in zip(out, flips)])
            out = out.mean(0, keepdim=True)
            if self.kind == "denoiser" and self.gate > 0:
                from fastscan.models.nets import activity_gate

                out = out * activity_gate(batch[:1, :1].float(), self.gate)
        return out[0, :, :n_rows, :n_cols].float().cpu().numpy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weights={str(self.weights)!r}, device={str(self.device)!r})"


class UNetDenoiser(_TorchModel):
    """Residual-attention U-Net that refines the sparse IDW reconstruction.

    It predicts a correction to the normalised reconstruction from the
    reconstruction, the measured mask and the distance to the nearest
    measurement; the measured readings are put back unless ``keep_measured`` is
    False.

    Parameters
    ----------
    weights : path or None
        Weights file; None uses the shipped ``weights/unet_denoiser.pt``.
    device : "auto", "cpu" or "cuda[:n]"
    amp : bool
        Mixed precision (float16 autocast) on a GPU; ignored on the CPU.
    keep_measured : bool
    tta : {1, 2, 4}
        Average over this many flipped copies of the frame (test-time
        augmentation): a little more accurate, ``tta`` times slower.
    """

    name = "unet-denoiser"
    kind = "denoiser"

    def __init__(
        self,
        weights: str | Path | None = None,
        device: str = "auto",
        amp: bool = True,
        keep_measured: bool = True,
        tta: int = DEFAULT_TTA,
    ) -> None:
        super().__init__(weights, device, amp, tta)
        self.keep_measured = bool(keep_measured)

    def __call__(self, reconstruction: np.ndarray, mask: np.ndarray) -> np.ndarray:
        image, mask = check_frame(reconstruction, mask)
        x, offset, scale = normalise(image, mask)
        inputs = network_inputs(x, mask)
        refined = x + self._forward(inputs, self.tta)[0]
        out = denormalise(refined, offset, scale)
        if self.keep_measured:
            out[mask] = image[mask]
        return out


def labels_from_probabilities(
    foreground: np.ndarray,
    boundary: np.ndarray,
    min_size: int = 8,
    foreground_threshold: float = 0.5,
    boundary_threshold: float = 0.5,
) -> np.ndarray:
    """Instance labels from foreground and boundary probability maps.

    Foreground is ``foreground > foreground_threshold``. Seeds are the connected
    foreground pixels with ``boundary < boundary_threshold``; a watershed of the
    boundary map from those seeds fills the foreground; foreground blobs with no
    seed become their own label; regions under ``min_size`` pixels are dropped.
    """
    from skimage.segmentation import watershed

    from fastscan.models.classical import drop_small_regions

    fg = foreground > foreground_threshold
    seeds, n_seeds = ndimage.label(fg & (boundary < boundary_threshold))
    labels = watershed(boundary, seeds, mask=fg)
    orphans, _ = ndimage.label(fg & (labels == 0))
    labels = np.where(orphans > 0, orphans + n_seeds, labels)
    return drop_small_regions(labels, min_size)


class UNetSegmenter(_TorchModel):
    """U-Net that predicts foreground and boundary maps; a watershed turns them into labels.

    Parameters
    ----------
    weights : path or None
        Weights file; None uses the shipped ``weights/unet_segmenter.pt``.
    device : "auto", "cpu" or "cuda[:n]"
    amp : bool
        Mixed precision on a GPU.
    min_size : int
        Regions smaller than this many pixels become background.
    tta : {1, 2, 4}
        Average the probabilities over this many flipped copies of the frame.
    foreground_threshold, boundary_threshold : float
        Probability thresholds of :func:`labels_from_probabilities`. The defaults
        (0.4, 0.3) were chosen on validation phantoms (seeds 500-501, 450 x 300,
        fast-sampler frames at 10 and 20 %), neither training nor evaluation seeds.
    """

    name = "unet-segmenter"
    kind = "segmenter"

    def __init__(
        self,
        weights: str | Path | None = None,
        device: str = "auto",
        amp: bool = True,
        min_size: int = 8,
        tta: int = 1,
        foreground_threshold: float = 0.4,
        boundary_threshold: float = 0.3,
    ) -> None:
        super().__init__(weights, device, amp, tta)
        for label, value in (("foreground_threshold", foreground_threshold),
                             ("boundary_threshold", boundary_threshold)):  # fmt: skip
            if not 0.0 < float(value) < 1.0:
                raise ValueError(f"{label} must be in (0, 1), got {value!r}")
        self.foreground_threshold = float(foreground_threshold)
        self.boundary_threshold = float(boundary_threshold)
        if int(min_size) != min_size or min_size < 0:
            raise ValueError(f"min_size must be an integer >= 0, got {min_size!r}")
        self.min_size = int(min_size)

    def probabilities(self, reconstruction: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(2, H, W) float32: foreground and boundary probabilities."""
        image, mask = check_frame(reconstruction, mask)
        x, _, _ = normalise(image, mask)
        logits = self._forward(network_inputs(x, mask), self.tta)
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)

    def __call__(self, reconstruction: np.ndarray, mask: np.ndarray) -> np.ndarray:
        foreground, boundary = self.probabilities(reconstruction, mask)
        return labels_from_probabilities(
            foreground, boundary, self.min_size, self.foreground_threshold, self.boundary_threshold
        )
