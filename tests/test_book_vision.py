"""lossbook.book.vision, Part VIII's helpers: the synthetic data are what they claim, the torch losses that train
the chapters' models equal lossbook's, and the measures are right."""
import numpy as np
import pytest
import torch

import lossbook
from lossbook.book import vision as V


def test_box_images_put_the_rectangle_inside_its_box():
    images, boxes = V.box_images(20, noise=0.0, seed=3)
    assert images.shape == (20, 24, 24) and boxes.shape == (20, 4)
    for img, (x1, y1, x2, y2) in zip(images, boxes.astype(int), strict=True):
        ys, xs = np.nonzero(img)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x1, y1, x2, y2)
    assert np.all(boxes[:, 2:] <= 24) and np.all(boxes[:, :2] >= 0)
    np.testing.assert_array_equal(V.box_images(5, seed=1)[1], V.box_images(5, seed=1)[1])   # seeded


def test_box_iou_and_the_torch_box_losses_equal_lossbook():
    _, b = V.box_images(30, seed=4)
    _, g = V.box_images(30, seed=5)
    np.testing.assert_allclose(V.box_iou(b, g), 1 - lossbook.box_iou_loss(b, g, eps=0.0), rtol=1e-12, atol=1e-15)
    for kind in ("iou", "giou", "diou", "ciou"):
        ref = V.torch_box_loss(torch.tensor(b), torch.tensor(g), kind).numpy()
        np.testing.assert_allclose(ref, lossbook.box_iou_loss(b, g, kind=kind), rtol=1e-10, atol=1e-12)
    l1 = V.torch_box_loss(torch.tensor(b), torch.tensor(g), "l1").numpy()
    np.testing.assert_allclose(l1, np.abs(b - g).sum(1))
    with pytest.raises(ValueError, match="`kind` must be"):
        V.torch_box_loss(torch.tensor(b), torch.tensor(g), "eiou")


def test_box_regressor_predicts_valid_boxes_and_learns():
    X, B = V.box_images(100, seed=1)
    model, hist = V.train_box_regressor(X, B, "giou", steps=30, evaluate=lambda m: V.box_iou(V.predict_boxes(m, X), B).mean())
    pred = V.predict_boxes(model, X)
    assert np.all(pred[:, 2] > pred[:, 0]) and np.all(pred[:, 3] > pred[:, 1])
    assert hist[-1] > hist[0] + 0.1
    first = V.predict_boxes(V.train_box_regressor(X, B, "iou", steps=0, start="corner")[0], X)
    assert np.all(first[:, :2] < 3)            # the corner start: small boxes at the top left
    with pytest.raises(ValueError, match="`start`"):
        V.train_box_regressor(X, B, "iou", steps=0, start="middle")


def test_shape_masks_have_small_and_large_objects():
    images, masks, small = V.shape_masks(60, seed=2)
    areas = masks.sum((1, 2))
    assert set(np.unique(masks)) <= {0.0, 1.0} and images.shape == masks.shape == (60, 16, 16)
    assert np.all(areas[small] <= 4) and np.all(areas[~small] >= 16)
    assert 0.3 < small.mean() < 0.7


@pytest.mark.parametrize("kind,fn,kwargs", [
    ("dice", lossbook.dice_loss, {}),
    ("jaccard", lossbook.jaccard_loss, {}),
    ("tversky", lossbook.tversky_loss, {"alpha": 0.3, "beta": 0.7}),
    ("focal_tversky", lossbook.focal_tversky_loss, {"alpha": 0.3, "beta": 0.7, "gamma": 0.75}),
])
def test_torch_mask_losses_equal_lossbook_on_sigmoid_probabilities(kind, fn, kwargs):
    rng = np.random.default_rng(0)
    logits, masks = rng.normal(0, 2, (3, 8, 8)), (rng.random((3, 8, 8)) < 0.2).astype(float)
    ref = V.torch_mask_loss(torch.tensor(logits), torch.tensor(masks), kind).item()
    assert ref == pytest.approx(float(fn(1 / (1 + np.exp(-logits)), masks, **kwargs)), rel=1e-10)


def test_torch_lovasz_and_bce_equal_lossbook():
    rng = np.random.default_rng(1)
    logits, masks = rng.normal(0, 2, (3, 8, 8)), (rng.random((3, 8, 8)) < 0.2).astype(float)
    t = torch.tensor(logits), torch.tensor(masks)
    assert V.torch_mask_loss(*t, "lovasz").item() == pytest.approx(
        float(lossbook.lovasz_hinge_loss(logits, masks, per_image=False)), rel=1e-12)
    assert V.torch_mask_loss(*t, "bce").item() == pytest.approx(
        float(lossbook.binary_cross_entropy_with_logits(logits, masks)), rel=1e-12)


def test_segmenter_and_mask_iou():
    X, M, _ = V.shape_masks(30, seed=1)
    predict = V.train_segmenter(X, M, "dice", steps=20)
    p = predict(X)
    assert p.shape == M.shape and np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(V.mask_iou(M, M), 1.0)
    assert V.mask_iou(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)))[0] == 1.0      # both empty
    assert V.mask_iou(np.array([[[1, 1], [0, 0]]]), np.array([[[1, 0], [0, 0]]]))[0] == 0.5


@pytest.mark.parametrize("kind,fn", [("cosface", lossbook.cosface_loss), ("arcface", lossbook.arcface_loss)])
def test_torch_margin_logits_equal_lossbook(kind, fn):
    rng = np.random.default_rng(2)
    x, w, y = rng.normal(size=(10, 4)), rng.normal(size=(3, 4)), rng.integers(0, 3, 10)
    logits = V.torch_margin_logits(torch.tensor(x), torch.tensor(w), torch.tensor(y), kind, 16.0, 0.4)
    ref = torch.nn.functional.cross_entropy(logits, torch.tensor(y)).item()
    assert ref == pytest.approx(float(fn(x, w, y, scale=16.0, margin=0.4)), rel=1e-9)
    normface = V.torch_margin_logits(torch.tensor(x), torch.tensor(w), torch.tensor(y), "normface", 16.0, 0.4)
    assert torch.nn.functional.cross_entropy(normface, torch.tensor(y)).item() == pytest.approx(
        float(lossbook.cosface_loss(x, w, y, scale=16.0, margin=0.0)), rel=1e-9)


def test_margin_batch_loss_registers_the_class_weights_on_the_model():
    model = torch.nn.Linear(6, 4)
    fn = V.margin_batch_loss(model, "arcface", 3, 4)
    assert model.class_weight.shape == (3, 4)
    assert any(p is model.class_weight for p in model.parameters())
    loss = fn(model(torch.randn(5, 6)), torch.tensor([0, 1, 2, 0, 1]))
    loss.backward()
    assert model.class_weight.grad is not None


def test_verification_auc_against_scikit_learn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 25)
    emb = rng.normal(size=(25, 3)) + 2 * np.eye(3)[labels]
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    iu = np.triu_indices(25, 1)
    expected = roc_auc_score((labels[:, None] == labels[None, :])[iu], (e @ e.T)[iu])
    assert V.verification_auc(emb, labels) == pytest.approx(expected, rel=1e-12)


def test_mean_and_interval():
    m, h = V.mean_and_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert m == 3.0 and h == pytest.approx(2.776 * np.std([1, 2, 3, 4, 5], ddof=1) / np.sqrt(5))
    with pytest.raises(ValueError, match="at least two"):
        V.mean_and_interval([1.0])
