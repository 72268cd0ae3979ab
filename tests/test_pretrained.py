"""vit_lib.pretrained (chapter 12): the shipped digits model and the safetensors round trip."""

import hashlib
import json
from importlib import resources

import pytest
import torch
from safetensors.torch import save_file

from vit_lib.data import Compose, Normalize, RandomShift, Resize, load_digits
from vit_lib.model import VisionTransformer, ViTConfig
from vit_lib.pretrained import load_pretrained, save_pretrained
from vit_lib.train import RECIPES

WEIGHTS = resources.files("vit_lib") / "weights"


def tiny_vit() -> VisionTransformer:
    torch.manual_seed(0)
    return VisionTransformer(
        ViTConfig(
            img_size=8,
            patch_size=2,
            in_chans=1,
            num_classes=3,
            embed_dim=16,
            depth=1,
            num_heads=2,
            mlp_ratio=2.0,
        )
    )


def test_the_shipped_file_is_the_one_its_card_describes():
    card = json.loads((WEIGHTS / "digits.json").read_text())
    data = (WEIGHTS / card["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == card["sha256"] and len(data) == card["bytes"]
    assert (
        card["recipe"]["vit"] == RECIPES["digits"][0]
        and card["recipe"]["train"] == RECIPES["digits"][1]
    )


def test_the_shipped_digits_model_loads_and_classifies():
    shipped = load_pretrained("digits")
    card = json.loads((WEIGHTS / "digits.json").read_text())
    assert shipped.model.config == ViTConfig(**RECIPES["digits"][0]) and not shipped.model.training
    assert [type(step).__name__ for step in shipped.transform.transforms] == ["Resize", "Normalize"]
    digits = load_digits()
    assert shipped.classes == digits.classes
    acc = (
        (shipped.logits(digits.test.images).argmax(-1) == digits.test.labels).float().mean().item()
    )
    # Inference on another CPU may round a borderline digit the other way: one digit of slack.
    assert abs(acc - card["metrics"]["test_acc"]) <= 1 / 359 + 1e-9, (acc, card["metrics"])


def test_save_and_load_round_trip_is_exact(tmp_path):
    model = tiny_vit().eval()
    transform = Compose([Resize(8), Normalize(0.25, 0.5)])
    sha = save_pretrained(
        tmp_path / "m.safetensors", model, transform, ("a", "b", "c"), info={"note": "tiny"}
    )
    loaded = load_pretrained(tmp_path / "m.safetensors")
    assert sha == hashlib.sha256((tmp_path / "m.safetensors").read_bytes()).hexdigest()
    assert (
        loaded.classes == ("a", "b", "c")
        and loaded.info == {"note": "tiny"}
        and loaded.model.config == model.config
    )
    x = torch.rand(5, 1, 8, 8)
    assert torch.equal(loaded.logits(x), model(transform(x)).detach())
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor), name


def test_save_refuses_a_transform_it_cannot_record(tmp_path):
    with pytest.raises(
        ValueError, match=r"transform must be \[Resize,\] Normalize, got Compose\(\[RandomShift"
    ):
        save_pretrained(
            tmp_path / "m.safetensors",
            tiny_vit(),
            Compose([RandomShift(1), Normalize(0, 1)]),
            ("a",),
        )


def test_load_names_a_missing_file_and_the_shipped_models(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"nowhere.safetensors: no such file \(shipped models: digits\)"
    ):
        load_pretrained(tmp_path / "nowhere.safetensors")


def test_load_refuses_a_safetensors_file_of_someone_else(tmp_path):
    save_file({"weight": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="other.safetensors was not written by save_pretrained"):
        load_pretrained(tmp_path / "other.safetensors")
