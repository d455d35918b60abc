"""Ranking and metric-learning losses: parity with PyTorch (values and gradients), errors, warnings,
stability and properties."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from parity import check_parity, numerical_grad

import lossbook

RNG = np.random.default_rng(2024)
REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float64, np.float32]


def _normal(shape, dtype=np.float64):
    return np.asarray(RNG.standard_normal(shape), dtype=dtype)


def _signs(shape, dtype=np.float64):
    return np.asarray(RNG.choice([-1.0, 1.0], size=shape), dtype=dtype)


# ----------------------------------------------------------------------------------------------------------
# hinge_embedding_loss
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(9,), (4, 5), (2, 3, 4), ()])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("margin", [1.0, 0.5, 2.5, -0.3])
def test_hinge_embedding_parity(reduction, shape, dtype, margin):
    x = np.asarray(np.abs(_normal(shape, dtype)) * 1.5)  # a distance: non-negative
    y = _signs(shape, dtype)
    check_parity("hinge_embedding_loss", [x, y], {"margin": margin, "reduction": reduction})


def test_hinge_embedding_gradient_at_the_kink_follows_torch():
    x = np.array([1.0, 0.5, 2.0, 1.0])
    y = np.array([-1.0, -1.0, -1.0, 1.0])
    _, (g,) = check_parity("hinge_embedding_loss", [x, y], {"margin": 1.0, "reduction": "sum"})
    assert g[0] == -1.0  # x == margin: PyTorch passes the gradient


def test_hinge_embedding_refuses_01_targets_and_other_values():
    x = np.abs(_normal(4))
    with pytest.raises(ValueError, match=r"`target` holds 0/1 labels.*2 \* target - 1"):
        lossbook.hinge_embedding_loss(x, np.array([0, 1, 1, 0]))
    with pytest.raises(ValueError, match=r"`target` must hold only \+1 and -1"):
        lossbook.hinge_embedding_loss(x, np.array([2.0, 1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match=r"`target` has shape \(4, 1\).*reshape"):
        lossbook.hinge_embedding_loss(x, np.ones((4, 1)))
    with pytest.raises(ValueError, match="`target` contains NaN"):
        lossbook.hinge_embedding_loss(x, np.array([1.0, np.nan, 1.0, -1.0]))


def test_hinge_embedding_warns_on_negative_input_with_positive_target():
    with pytest.warns(lossbook.LossInputWarning, match="`input` has negative values.*distance"):
        lossbook.hinge_embedding_loss(np.array([-0.5, 1.0, 2.0]), np.array([1, -1, 1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lossbook.hinge_embedding_loss(np.array([-0.5, 1.0, 2.0]), np.array([-1, -1, 1]))  # negatives only where y=-1
        lossbook.hinge_embedding_loss(np.array([-0.5]), np.array([1]))  # single element: not checked


# ----------------------------------------------------------------------------------------------------------
# margin_ranking_loss
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(11,), (3, 4), ()])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("margin", [0, 0.5, -0.2])
def test_margin_ranking_parity(reduction, shape, dtype, margin):
    x1, x2 = _normal(shape, dtype), _normal(shape, dtype)
    y = _signs(shape, dtype)
    check_parity("margin_ranking_loss", [x1, x2, y], {"margin": margin, "reduction": reduction}, grad_argnums=(0, 1))


def test_margin_ranking_kink_and_integer_targets():
    x1 = np.array([1.0, 2.0, 0.5])
    x2 = np.array([1.0, 1.5, 0.0])
    y = np.array([1.0, 1.0, -1.0])
    _, (g1, g2) = check_parity(
        "margin_ranking_loss", [x1, x2, y], {"margin": 0.5, "reduction": "sum"}, grad_argnums=(0, 1)
    )
    assert g1[1] == -1.0 and g2[1] == 1.0  # -(2 - 1.5) + 0.5 == 0: the gradient passes, as in PyTorch
    assert lossbook.margin_ranking_loss(x1, x2, np.array([1, 1, -1])) == lossbook.margin_ranking_loss(x1, x2, y)


def test_margin_ranking_refuses_broadcasting_and_bad_targets():
    x = _normal(5)
    with pytest.raises(ValueError, match=r"`input2` has shape \(5, 1\).*same shape"):
        lossbook.margin_ranking_loss(x, x.reshape(5, 1), np.ones(5))
    with pytest.raises(ValueError, match=r"`target` has shape \(5, 1\)"):
        lossbook.margin_ranking_loss(x, x, np.ones((5, 1)))
    with pytest.raises(ValueError, match=r"`target` holds 0/1 labels.*2 \* target - 1"):
        lossbook.margin_ranking_loss(x, x, np.array([0, 1, 0, 1, 1]))
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        lossbook.margin_ranking_loss(x, x, np.ones(5), reduction="batchmean")
    with pytest.raises(TypeError, match="`margin` must be a real number"):
        lossbook.margin_ranking_loss(x, x, np.ones(5), margin="1")


# ----------------------------------------------------------------------------------------------------------
# cosine_embedding_loss
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (5,), (1, 3)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("margin", [0, 0.3, -0.5, 1.0])
def test_cosine_embedding_parity(reduction, shape, dtype, margin):
    x1, x2 = _normal(shape, dtype), _normal(shape, dtype)
    y = _signs(shape[:-1], dtype)
    check_parity("cosine_embedding_loss", [x1, x2, y], {"margin": margin, "reduction": reduction}, grad_argnums=(0, 1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cosine_embedding_edge_cases_zero_identical_orthogonal(dtype):
    x1 = np.array([[0, 0, 0], [1, 0, 0], [1, 2, 3], [1, 2, 3], [0, 0, 0], [1e-8, 0, 0]], dtype=dtype)
    x2 = np.array([[0, 0, 0], [0, 1, 0], [1, 2, 3], [1, 2, 3], [1, 1, 1], [2e-8, 0, 0]], dtype=dtype)
    y = np.array([1, -1, -1, 1, 1, -1], dtype=dtype)  # row 1: cos == margin == 0, the kink
    value, (g1, _) = check_parity("cosine_embedding_loss", [x1, x2, y], {"reduction": "none"}, grad_argnums=(0, 1))
    assert value[0] == 1 and value[4] == 1  # a zero vector has cosine 0 with everything
    assert g1[1, 1] == pytest.approx(1.0)  # cos == margin: the kink passes the gradient (d cos / d x1 = x2)


def test_cosine_embedding_refuses_bad_margin_shapes_and_targets():
    x = _normal((4, 3))
    with pytest.raises(ValueError, match=r"`margin` must lie in \[-1, 1\]"):
        lossbook.cosine_embedding_loss(x, x, np.ones(4), margin=1.5)
    with pytest.raises(ValueError, match=r"`input1` and `input2` must have shape \(N, D\) or \(D,\)"):
        lossbook.cosine_embedding_loss(_normal((2, 3, 4)), _normal((2, 3, 4)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"`target` has shape \(4, 1\).*one label per pair"):
        lossbook.cosine_embedding_loss(x, x, np.ones((4, 1)))
    with pytest.raises(ValueError, match=r"`input2` has shape \(1, 3\)"):
        lossbook.cosine_embedding_loss(x, x[:1], np.ones(4))
    with pytest.raises(ValueError, match=r"`target` holds 0/1 labels"):
        lossbook.cosine_embedding_loss(x, x, np.array([0, 1, 1, 0]))


# ----------------------------------------------------------------------------------------------------------
# triplet_margin_loss
# ----------------------------------------------------------------------------------------------------------


def _triplet(shape, dtype=np.float64):
    return _normal(shape, dtype), _normal(shape, dtype), _normal(shape, dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [1, 2, 3, 1.5, 0.5, np.inf])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_parity_p_swap(reduction, dtype, p, swap):
    a, pos, neg = _triplet((8, 5), dtype)
    kwargs = {"margin": 1.0, "p": p, "swap": swap, "reduction": reduction}
    check_parity("triplet_margin_loss", [a, pos, neg], kwargs, grad_argnums=(0, 1, 2))


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4), (1, 3)])
@pytest.mark.parametrize("eps", [1e-6, 0.0, 0.1])
@pytest.mark.parametrize("margin", [1.0, 0.2, 3.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_parity_shapes_eps_margin(shape, eps, margin, reduction):
    a, pos, neg = _triplet(shape)
    kwargs = {"margin": margin, "eps": eps, "swap": True, "reduction": reduction}
    check_parity("triplet_margin_loss", [a, pos, neg], kwargs, grad_argnums=(0, 1, 2))


@pytest.mark.parametrize("p", [1, 2, 3, 0.5, np.inf])
def test_triplet_zero_differences_ties_and_kinks_follow_torch(p):
    a = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 2.0], [0.0, 0.0]])
    pos = np.array([[2.0, 0.0], [1.0, 0.0], [1.0, 2.0], [0.0, 1.0]])  # row 2: anchor == positive
    neg = np.array([[1.0, 1.0], [2.0, 0.0], [1.0, 5.0], [0.0, 1.0]])  # row 0: swap tie; row 3: p == n
    for swap in (False, True):
        check_parity(
            "triplet_margin_loss",
            [a, pos, neg],
            {"p": p, "eps": 0.0, "swap": swap, "margin": 5.0},
            grad_argnums=(0, 1, 2),
        )
    # row 1 with margin 1, p=2: 1 + 1 - 2 == 0, the hinge's kink
    check_parity(
        "triplet_margin_loss",
        [a, pos, neg],
        {"p": p, "eps": 0.0, "margin": 1.0, "reduction": "none"},
        grad_argnums=(0, 1, 2),
    )


def test_triplet_refuses_bad_margin_p_and_shapes():
    a, pos, neg = _triplet((3, 4))
    for margin in (0.0, -1.0):
        with pytest.raises(ValueError, match="`margin` must be positive"):
            lossbook.triplet_margin_loss(a, pos, neg, margin=margin)
    for p in (0, -1.0):
        with pytest.raises(ValueError, match="`p` must be positive"):
            lossbook.triplet_margin_loss(a, pos, neg, p=p)
    with pytest.raises(ValueError, match=r"`negative` has shape \(1, 4\)"):
        lossbook.triplet_margin_loss(a, pos, neg[:1])
    with pytest.raises(ValueError, match="0-d"):
        lossbook.triplet_margin_loss(1.0, 2.0, 3.0)


# ----------------------------------------------------------------------------------------------------------
# distances and triplet_margin_with_distance_loss
# ----------------------------------------------------------------------------------------------------------


def _torch_pairwise(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return F.pairwise_distance(x1, x2, p=p, eps=eps, keepdim=keepdim)


def _torch_cosine(x1, x2, eps=1e-8):
    return 1 - F.cosine_similarity(x1, x2, dim=-1, eps=eps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, np.inf])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape", [(6, 3), (4,), (2, 3, 5)])
def test_pairwise_distance_parity(dtype, p, keepdim, shape):
    x1, x2 = _normal(shape, dtype), _normal(shape, dtype)
    check_parity(
        "pairwise_distance", [x1, x2], {"p": p, "keepdim": keepdim}, grad_argnums=(0, 1), torch_fn=_torch_pairwise
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_cosine_distance_parity_including_rows_shorter_than_eps(dtype):
    x1 = _normal((6, 3), dtype)
    x2 = _normal((6, 3), dtype)
    x1[0] = [1e-10, 2e-10, 0]  # below eps=1e-8: PyTorch's untracked clamp
    x2[1] = 0
    atol = 1e-12 if dtype is np.float64 else 1e-5
    check_parity("cosine_distance", [x1, x2], {}, grad_argnums=(0, 1), torch_fn=_torch_cosine, grad_atol=atol)
    check_parity("cosine_distance", [x1[2], x2[2]], {"eps": 1e-6}, grad_argnums=(0, 1), torch_fn=_torch_cosine)


def _l1(x1, x2):
    return lossbook.pairwise_distance(x1, x2, p=1, eps=0.0)


_l1.grad = lambda x1, x2: lossbook.pairwise_distance.grad(x1, x2, p=1, eps=0.0)

DISTANCES = {  # lossbook distance -> the equivalent torch distance
    "default": (None, None),
    "pairwise": (lossbook.pairwise_distance, F.pairwise_distance),
    "cosine": (lossbook.cosine_distance, _torch_cosine),
    "l1": (_l1, lambda x1, x2: F.pairwise_distance(x1, x2, p=1, eps=0.0)),
}


@pytest.mark.parametrize("dist", sorted(DISTANCES))
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7, 4), (4,)])
def test_triplet_with_distance_parity(dist, swap, reduction, dtype, shape):
    ours, theirs = DISTANCES[dist]
    margin = 0.3 if dist == "cosine" else 1.0
    a, pos, neg = _triplet(shape, dtype)

    def torch_fn(a, p, n, distance_function=None, **kw):
        return F.triplet_margin_with_distance_loss(a, p, n, distance_function=theirs, **kw)

    kwargs = {"distance_function": ours, "margin": margin, "swap": swap, "reduction": reduction}
    check_parity("triplet_margin_with_distance_loss", [a, pos, neg], kwargs, grad_argnums=(0, 1, 2), torch_fn=torch_fn)


def test_triplet_with_distance_default_equals_triplet_margin_loss():
    a, pos, neg = _triplet((5, 3))
    for swap in (False, True):
        np.testing.assert_array_equal(
            lossbook.triplet_margin_with_distance_loss(a, pos, neg, swap=swap, reduction="none"),
            lossbook.triplet_margin_loss(a, pos, neg, swap=swap, reduction="none"),
        )


def test_triplet_with_distance_protocol_errors():
    a, pos, neg = _triplet((3, 4))

    def no_grad(x1, x2):
        return np.abs(x1 - x2).sum(-1)

    assert np.isfinite(lossbook.triplet_margin_with_distance_loss(a, pos, neg, distance_function=no_grad))
    with pytest.raises(TypeError, match="`distance_function`.*has no `.grad`"):
        lossbook.triplet_margin_with_distance_loss.grad(a, pos, neg, distance_function=no_grad)
    with pytest.raises(ValueError, match=r"`distance_function` returned shape \(3, 4\).*one distance per row"):
        lossbook.triplet_margin_with_distance_loss(a, pos, neg, distance_function=lambda x1, x2: x1 - x2)
    with pytest.raises(TypeError, match="`distance_function` must be callable"):
        lossbook.triplet_margin_with_distance_loss(a, pos, neg, distance_function="euclidean")
    with pytest.raises(ValueError, match="`margin` must be positive"):
        lossbook.triplet_margin_with_distance_loss(a, pos, neg, margin=0)
    with pytest.raises(TypeError):
        lossbook.triplet_margin_with_distance_loss(a, pos, neg, None)  # keyword-only, as in torch


# ----------------------------------------------------------------------------------------------------------
# contrastive_loss (reference written in torch)
# ----------------------------------------------------------------------------------------------------------


def _torch_contrastive(x1, x2, target, margin=1.0, reduction="mean"):
    d = torch.linalg.vector_norm(x1 - x2, dim=-1)
    loss = 0.5 * target * d**2 + 0.5 * (1 - target) * torch.clamp_min(margin - d, 0) ** 2
    return {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[reduction]()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 3), (4,), (2, 3, 4)])
@pytest.mark.parametrize("margin", [1.0, 2.5, 0.3])
def test_contrastive_parity(reduction, dtype, shape, margin):
    x1, x2 = _normal(shape, dtype), _normal(shape, dtype)
    y = RNG.integers(0, 2, shape[:-1]).astype(dtype)
    check_parity(
        "contrastive_loss",
        [x1, x2, y],
        {"margin": margin, "reduction": reduction},
        grad_argnums=(0, 1),
        torch_fn=_torch_contrastive,
    )


def test_contrastive_identical_pairs_and_integer_targets():
    x = _normal((4, 3))
    y = np.array([1, 1, 0, 0])
    value, (g1, g2) = check_parity(
        "contrastive_loss",
        [x, x.copy(), y.astype(float)],
        {"reduction": "none"},
        grad_argnums=(0, 1),
        torch_fn=_torch_contrastive,
    )
    np.testing.assert_array_equal(value, [0, 0, 0.5, 0.5])  # similar: 0; dissimilar at d = 0: margin^2 / 2
    assert np.all(g1 == 0) and np.all(g2 == 0)  # d = 0: PyTorch's norm gradient is 0
    np.testing.assert_array_equal(
        lossbook.contrastive_loss(x, x + 1, y), lossbook.contrastive_loss(x, x + 1, y.astype(float))
    )


def test_contrastive_refuses_pm1_targets_and_bad_margin():
    x = _normal((4, 3))
    with pytest.raises(ValueError, match=r"`target` holds -1/\+1 labels.*\(target \+ 1\) / 2"):
        lossbook.contrastive_loss(x, x, np.array([1, -1, 1, -1]))
    with pytest.raises(ValueError, match="`target` must hold 1 .similar. or 0"):
        lossbook.contrastive_loss(x, x, np.array([0.5, 1, 0, 1]))
    with pytest.raises(ValueError, match="`margin` must be positive"):
        lossbook.contrastive_loss(x, x, np.ones(4), margin=0)
    with pytest.raises(ValueError, match=r"`target` has shape \(4, 3\).*one label per pair"):
        lossbook.contrastive_loss(x, x, np.ones((4, 3)))


# ----------------------------------------------------------------------------------------------------------
# info_nce_loss (reference written in torch)
# ----------------------------------------------------------------------------------------------------------


def _torch_info_nce(a, p, temperature=0.1, reduction="mean", symmetric=False):
    s = F.normalize(a) @ F.normalize(p).T / temperature
    labels = torch.arange(a.shape[0])
    loss = F.cross_entropy(s, labels, reduction="none")
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(s.T, labels, reduction="none"))
    return {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[reduction]()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", [0.1, 1.0, 0.02])
@pytest.mark.parametrize("symmetric", [False, True])
def test_info_nce_parity(reduction, dtype, temperature, symmetric):
    a, p = _normal((7, 5), dtype), _normal((7, 5), dtype)
    kwargs = {"temperature": temperature, "reduction": reduction, "symmetric": symmetric}
    # float32: 1/temperature amplifies rounding; lossbook and torch are both ~1e-6/temperature from the float64 truth
    grad_atol = 1e-6 / temperature if dtype is np.float32 else None
    check_parity("info_nce_loss", [a, p], kwargs, grad_argnums=(0, 1), torch_fn=_torch_info_nce, grad_atol=grad_atol)


def test_info_nce_zero_rows_follow_normalize():
    a, p = _normal((4, 3)), _normal((4, 3))
    a[1] = 0
    p[2] = [1e-14, 0, 0]  # shorter than normalize's eps = 1e-12: the clamp blocks the norm's gradient
    check_parity("info_nce_loss", [a, p], {}, grad_argnums=(0, 1), torch_fn=_torch_info_nce, grad_rtol=1e-7)


def test_info_nce_refuses_and_warns():
    a = _normal((4, 3))
    with pytest.raises(ValueError, match=r"`anchors` and `positives` must have shape \(N, D\).*reshape\(1, -1\)"):
        lossbook.info_nce_loss(a[0], a[1])
    with pytest.raises(ValueError, match=r"`positives` has shape \(4, 2\)"):
        lossbook.info_nce_loss(a, a[:, :2])
    with pytest.raises(ValueError, match="`temperature` must be positive"):
        lossbook.info_nce_loss(a, a, temperature=0)
    with pytest.raises(TypeError, match="`symmetric` must be True or False"):
        lossbook.info_nce_loss(a, a, symmetric="yes")
    with pytest.warns(lossbook.LossInputWarning, match="single pair.*no negatives"):
        assert lossbook.info_nce_loss(a[:1], a[1:2]) == 0


# ----------------------------------------------------------------------------------------------------------
# Common conventions, stability
# ----------------------------------------------------------------------------------------------------------

_CALLS = {
    "hinge_embedding_loss": lambda r: lossbook.hinge_embedding_loss([1.0, 2.0], [1, -1], reduction=r),
    "margin_ranking_loss": lambda r: lossbook.margin_ranking_loss([1.0, 2.0], [2.0, 1.0], [1, -1], reduction=r),
    "cosine_embedding_loss": lambda r: lossbook.cosine_embedding_loss([[1.0, 2.0]], [[2.0, 1.0]], [1], reduction=r),
    "triplet_margin_loss": lambda r: lossbook.triplet_margin_loss(
        [[1.0, 2.0]], [[2.0, 1.0]], [[0.0, 0.0]], reduction=r
    ),
    "triplet_margin_with_distance_loss": lambda r: lossbook.triplet_margin_with_distance_loss(
        [[1.0, 2.0]], [[2.0, 1.0]], [[0.0, 0.0]], reduction=r
    ),
    "contrastive_loss": lambda r: lossbook.contrastive_loss([[1.0, 2.0]], [[2.0, 1.0]], [0], reduction=r),
    "info_nce_loss": lambda r: lossbook.info_nce_loss([[1.0, 2.0], [0, 1]], [[2.0, 1.0], [1.0, 1.0]], reduction=r),
}


@pytest.mark.parametrize("name", sorted(_CALLS))
def test_lists_become_float64_and_bad_reduction_is_refused(name):
    value = _CALLS[name]("mean")
    assert isinstance(value, np.ndarray) and value.shape == () and value.dtype == np.float64
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        _CALLS[name]("average")


@pytest.mark.parametrize("scale", [1e4, 1e200])
def test_cosine_embedding_is_finite_and_right_for_huge_embeddings(scale):
    x1, x2 = _normal((5, 4)), _normal((5, 4))
    y = _signs(5)
    big = lossbook.cosine_embedding_loss(x1 * scale, x2 * scale, y, margin=0.1, reduction="none")
    ref = F.cosine_embedding_loss(
        torch.from_numpy(x1), torch.from_numpy(x2), torch.from_numpy(y), margin=0.1, reduction="none"
    )
    assert np.all(np.isfinite(big))
    np.testing.assert_allclose(big, ref.numpy(), rtol=1e-10, atol=1e-12)  # cosine is scale-free (eps aside)
    g1, g2 = lossbook.cosine_embedding_loss.grad(x1 * scale, x2 * scale, y, margin=0.1)
    s1, s2 = lossbook.cosine_embedding_loss.grad(x1, x2, y, margin=0.1)
    np.testing.assert_allclose(g1 * scale, s1, rtol=1e-8, atol=1e-12)  # the gradient scales as 1/scale
    np.testing.assert_allclose(g2 * scale, s2, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("scale", [1e4, 1e200])
@pytest.mark.parametrize("temperature", [1e-3, 0.1])
def test_info_nce_is_finite_and_right_for_huge_embeddings_and_tiny_temperature(scale, temperature):
    a, p = _normal((6, 4)), _normal((6, 4))
    value = lossbook.info_nce_loss(a * scale, p * scale, temperature=temperature, reduction="none")
    ref = _torch_info_nce(torch.from_numpy(a), torch.from_numpy(p), temperature, "none")  # torch's CE is stable
    assert np.all(np.isfinite(value))
    np.testing.assert_allclose(value, ref.numpy(), rtol=1e-9, atol=1e-10)
    ga, gp = lossbook.info_nce_loss.grad(a * scale, p * scale, temperature=temperature)
    assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gp))


def test_distances_do_not_overflow_for_huge_embeddings():
    x1, x2 = _normal((3, 4)), _normal((3, 4))
    for p in (0.5, 1, 2, 3, np.inf):
        unit = lossbook.pairwise_distance(x1, x2, p=p, eps=0.0)
        big = lossbook.pairwise_distance(x1 * 1e200, x2 * 1e200, p=p, eps=0.0)
        tiny = lossbook.pairwise_distance(x1 * 1e-200, x2 * 1e-200, p=p, eps=0.0)  # squares would underflow
        np.testing.assert_allclose(big / 1e200, unit, rtol=1e-12)
        np.testing.assert_allclose(tiny / 1e-200, unit, rtol=1e-12)
    np.testing.assert_allclose(
        lossbook.contrastive_loss(x1 * 1e150, x2 * 1e150, np.ones(3), reduction="none") / 1e300,
        lossbook.contrastive_loss(x1, x2, np.ones(3), reduction="none"),
        rtol=1e-12,
    )


def test_float32_stays_float32_in_value_and_gradient():
    a, pos, neg = _triplet((4, 3), np.float32)
    assert lossbook.triplet_margin_loss(a, pos, neg).dtype == np.float32
    assert all(g.dtype == np.float32 for g in lossbook.triplet_margin_loss.grad(a, pos, neg, swap=True))
    assert all(g.dtype == np.float32 for g in lossbook.info_nce_loss.grad(a, pos))
    assert all(g.dtype == np.float32 for g in lossbook.cosine_embedding_loss.grad(a, pos, np.ones(4)))


# ----------------------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=40, deadline=None)
@given(seeds, st.integers(1, 6), st.integers(1, 4), st.floats(0.05, 3.0))
def test_every_loss_is_nonnegative(seed, n, d, margin):
    rng = np.random.default_rng(seed)
    x1, x2, x3 = (rng.standard_normal((n, d)) * 2 for _ in range(3))
    pm = rng.choice([-1.0, 1.0], n)
    assert lossbook.hinge_embedding_loss(np.abs(x1[:, 0]), pm, margin=margin) >= 0
    assert lossbook.margin_ranking_loss(x1[:, 0], x2[:, 0], pm, margin=margin) >= 0
    assert lossbook.cosine_embedding_loss(x1, x2, pm, margin=min(margin, 1.0)) >= 0
    assert lossbook.triplet_margin_loss(x1, x2, x3, margin=margin, swap=True) >= 0
    assert lossbook.contrastive_loss(x1, x2, (pm + 1) / 2, margin=margin) >= 0
    if n > 1:
        assert lossbook.info_nce_loss(x1, x2, temperature=margin) >= 0


@settings(max_examples=40, deadline=None)
@given(seeds, st.floats(0.1, 3.0), st.sampled_from([1, 2, 3]))
def test_triplet_is_zero_when_negatives_are_far(seed, margin, p):
    rng = np.random.default_rng(seed)
    a, pos = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    d_ap = lossbook.pairwise_distance(a, pos, p=p)
    direction = rng.standard_normal((5, 3))
    direction /= lossbook.pairwise_distance(direction, 0 * direction, p=p, eps=0.0)[:, None]
    neg = a + direction * (d_ap + margin + 0.01)[:, None]  # d(a, n) >= d(a, p) + margin (eps aside)
    assert lossbook.triplet_margin_loss(a, pos, neg, margin=margin, p=p, eps=0.0) == 0
    assert all(np.all(g == 0) for g in lossbook.triplet_margin_loss.grad(a, pos, neg, margin=margin, p=p, eps=0.0))


@settings(max_examples=40, deadline=None)
@given(seeds, st.floats(0.0, 3.0))
def test_margin_ranking_is_zero_when_ordered_by_more_than_the_margin(seed, margin):
    rng = np.random.default_rng(seed)
    x2 = rng.standard_normal(6)
    y = rng.choice([-1.0, 1.0], 6)
    x1 = x2 + y * (margin + rng.uniform(0.01, 2.0, 6))  # y (x1 - x2) > margin
    assert lossbook.margin_ranking_loss(x1, x2, y, margin=margin) == 0
    x1_wrong = x2 - y * rng.uniform(0.01, 2.0, 6)  # wrongly ordered
    assert lossbook.margin_ranking_loss(x1_wrong, x2, y, margin=margin) > 0


@settings(max_examples=40, deadline=None)
@given(seeds, st.integers(2, 6), st.floats(0.05, 2.0), st.floats(0.0, 0.9), st.floats(0.05, 1.0))
def test_info_nce_decreases_as_a_positive_aligns(seed, n, temperature, t, step):
    rng = np.random.default_rng(seed)
    a, p = rng.standard_normal((n, 4)), rng.standard_normal((n, 4))
    i = int(rng.integers(n))
    ua, up = a[i] / np.linalg.norm(a[i]), p[i] / np.linalg.norm(p[i])
    losses = []
    for s in (t, min(t + step, 1.0)):
        q = p.copy()
        q[i] = (1 - s) * up + s * ua  # moves along the chord from p_i to a_i: its angle to a_i shrinks
        losses.append(lossbook.info_nce_loss(a, q, temperature=temperature, reduction="none")[i])
    assert losses[1] <= losses[0] + 1e-12
    assert losses[1] >= 0


def _fd_cases(rng):
    """(loss, args, kwargs, number of prediction args) on random float64 inputs, away from kinks w.p. 1."""
    n, d = 4, 3
    x1, x2, x3 = rng.standard_normal((n, d)), rng.standard_normal((n, d)), rng.standard_normal((n, d))
    pm = rng.choice([-1.0, 1.0], n)
    return [
        (lossbook.hinge_embedding_loss, [np.abs(x1[:, 0]) * 2, pm], {"margin": 1.0}, 1),
        (lossbook.margin_ranking_loss, [x1[:, 0], x2[:, 0], pm], {"margin": 0.3}, 2),
        (lossbook.cosine_embedding_loss, [x1, x2, pm], {"margin": -0.2, "reduction": "sum"}, 2),
        (lossbook.triplet_margin_loss, [x1, x2, x3], {"margin": 2.0, "p": 3, "swap": True}, 3),
        (
            lossbook.triplet_margin_with_distance_loss,
            [x1, x2, x3],
            {"distance_function": lossbook.cosine_distance, "margin": 0.5},
            3,
        ),
        (lossbook.contrastive_loss, [x1, x2, (pm + 1) / 2], {"margin": 3.0}, 2),
        (lossbook.info_nce_loss, [x1, x2], {"temperature": 0.5, "symmetric": True}, 2),
    ]


@settings(max_examples=15, deadline=None)
@given(seeds)
def test_analytic_gradients_match_finite_differences(seed):
    for fn, args, kwargs, k in _fd_cases(np.random.default_rng(seed)):
        grads = fn.grad(*args, **kwargs)
        grads = grads if isinstance(grads, tuple) else (grads,)
        assert len(grads) == k
        for j in range(k):

            def f(v, j=j, args=args, fn=fn, kwargs=kwargs):
                new = list(args)
                new[j] = v
                return fn(*new, **kwargs)

            np.testing.assert_allclose(grads[j], numerical_grad(f, args[j]), rtol=1e-5, atol=1e-6, err_msg=fn.__name__)


# ---- issue 12: differential-fuzzing findings against torch 2.13 -----------------------------------------------
@pytest.mark.parametrize("target", [1.0, -1.0])
def test_cosine_embedding_epsilon_is_atens_float_constant(target):
    """ATen adds 1e-12f (9.99999996e-13 in double), not the double 1e-12; it shows where |x|^2 is about 1e-12."""
    x1 = np.array([[1e-6, 0.0], [0.0, 2e-6]])
    x2 = np.array([[1e-6, 0.0], [0.0, 1e-6]])
    y = np.array([target, target])
    value, _ = check_parity(
        "cosine_embedding_loss", [x1, x2, y], {"margin": -0.5, "reduction": "none"}, grad_argnums=(0, 1)
    )
    if target == 1:  # with the double 1e-12 this would be exactly 0.5
        assert value[0] == pytest.approx(1 - 1e-12 / (1e-12 + float(np.float32(1e-12))), rel=1e-15)
        assert value[0] != 0.5
