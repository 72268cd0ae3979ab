# Generated from chapters/14_training_further.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/14_training_further.md, cell 6 ---
"""Trained models in safetensors files: weights plus what using them takes (config, preprocessing).

`vit_lib` ships one, the digits ViT of chapter 12 (`load_pretrained("digits")`), trained by
`tools/train_digits_model.py`; its metrics and SHA-256 are in `vit_lib/weights/digits.json`.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from vit_lib.data import Compose, Normalize, Resize
from vit_lib.model import VisionTransformer, ViTConfig

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["Pretrained", "save_pretrained", "load_pretrained"]

SHIPPED = ("digits",)      # names load_pretrained finds inside the package


@dataclass
class Pretrained:
    """A trained model in eval mode, the preprocessing it was trained with, and its class names."""

    model: VisionTransformer
    transform: Compose        # raw images (N, C, H, W) in [0, 1] -> what the model was trained on
    classes: tuple[str, ...]
    info: dict                # free-form facts saved with it: the recipe, where it came from

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (N, K) for raw images (N, C, H, W) in [0, 1], one view each."""
        return self.model(self.transform(images))


def save_pretrained(
    path: str | Path, model: VisionTransformer, transform: Compose, classes: tuple[str, ...],
    info: dict | None = None,
) -> str:
    """Write `model`'s weights and what `load_pretrained` needs to a safetensors file.

    `transform` may hold a `Resize` and must end with the `Normalize` of training. Returns the
    SHA-256 of the file.
    """
    steps = {type(step).__name__: step for step in transform.transforms}
    if set(steps) - {"Resize", "Normalize"} or "Normalize" not in steps:
        raise ValueError(f"transform must be [Resize,] Normalize, got {transform}")
    preprocess = {"resize": steps["Resize"].size if "Resize" in steps else 0,
                  "mean": steps["Normalize"].mean, "std": steps["Normalize"].std}
    header = {"format": "vit_lib", "vit_config": json.dumps(asdict(model.config)),
              "preprocess": json.dumps(preprocess), "classes": json.dumps(list(classes)),
              "info": json.dumps(info or {})}
    tensors = {name: t.detach().contiguous() for name, t in model.state_dict().items()}
    save_file(tensors, str(path), metadata=header)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_pretrained(name_or_path: str | Path = "digits") -> Pretrained:
    """A model saved by `save_pretrained`: one vit_lib ships, by name (`SHIPPED`), or a file."""
    if str(name_or_path) in SHIPPED:
        path = resources.files("vit_lib") / "weights" / f"{name_or_path}.safetensors"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file (shipped models: {', '.join(SHIPPED)})")
    with resources.as_file(path) as file, safe_open(str(file), framework="pt") as handle:
        header = handle.metadata() or {}
        if header.get("format") != "vit_lib":
            raise ValueError(f"{path} was not written by save_pretrained (no vit_lib header)")
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    # the random initial weights, overwritten next, leave the caller's RNG as it was
    with torch.random.fork_rng(devices=[]):
        model = VisionTransformer(ViTConfig(**json.loads(header["vit_config"])))
    model.load_state_dict(tensors)                         # strict: every name and shape must match
    preprocess = json.loads(header["preprocess"])
    steps = ([Resize(preprocess["resize"])] if preprocess["resize"] else []) + [
        Normalize(preprocess["mean"], preprocess["std"])]
    return Pretrained(model.eval(), Compose(steps), tuple(json.loads(header["classes"])),
                      json.loads(header["info"]))
