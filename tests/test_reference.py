"""lossbook.book.reference: the catalogue's cards and jump index are complete and name real PyTorch objects."""
import re

import pytest
import torch

import lossbook
from lossbook.book.reference import catalogue_cards, catalogue_index, catalogue_label, short_torch_name

NAMES = [info.name for info in lossbook.catalogue()]


def test_short_torch_names():
    assert short_torch_name("torch.nn.functional.cross_entropy") == "F.cross_entropy"
    assert short_torch_name(" torch.nn.CrossEntropyLoss") == "nn.CrossEntropyLoss"
    assert short_torch_name("torchvision.ops.sigmoid_focal_loss") == "torchvision.ops.sigmoid_focal_loss"


def test_labels_are_sphinx_friendly():
    assert catalogue_label("binary_cross_entropy_with_logits") == "catalogue-binary-cross-entropy-with-logits"
    assert all(re.fullmatch(r"[a-z0-9-]+", catalogue_label(n)) for n in NAMES)


def test_one_card_per_loss_with_its_label():
    cards = catalogue_cards()
    for name in NAMES:
        assert f"({catalogue_label(name)})=\n`{name}`\n: **prediction**" in cards, name
    assert cards.count("\n: **target** ") + cards.startswith(": **target** ") == len(NAMES)


@pytest.mark.parametrize("family", ["regression", "classification", "ranking"])
def test_cards_and_index_of_a_family_agree(family):
    names = [info.name for info in lossbook.catalogue(family)]
    assert names
    cards, index = catalogue_cards(family), catalogue_index(family)
    assert sorted(re.findall(r"^`(\w+)`$", cards, re.M)) == sorted(names)
    assert sorted(re.findall(r"\{ref\}`(\w+) <", index)) == sorted(names)


def test_pytorch_names_on_cards_exist():
    """Every F.x / nn.X a card names is a real attribute of torch (so a reader can look it up)."""
    named = set(re.findall(r"`((?:F|nn)\.\w+)`", catalogue_cards()))
    assert named
    for name in named:
        module = torch.nn.functional if name.startswith("F.") else torch.nn
        assert hasattr(module, name.split(".", 1)[1]), f"{name} is not in PyTorch"
