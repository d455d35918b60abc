"""Ranking and metric-learning losses (margin ranking, hinge embedding, cosine, triplet, contrastive, InfoNCE).

These losses supervise *relations* rather than values: which of two scores should be larger, whether two
embeddings belong together, whether an anchor is nearer its positive than its negative. Each loss is declared
with ``lossbook._registry.register`` and has its analytic gradient right below it (``@<loss>.defgrad``);
with several prediction arguments the gradient is a tuple, one array per prediction.

Two ready distances, :func:`pairwise_distance` and :func:`cosine_distance`, carry their own ``.grad`` so
that :func:`triplet_margin_with_distance_loss` can differentiate through them.
"""
from __future__ import annotations

import numpy as np

from ._reduction import reduce, reduction_scale
from ._registry import register
from ._stable import log_softmax, softmax
from ._validation import (
    as_float_array,
    as_prediction,
    check_finite,
    check_positive,
    check_reduction,
    check_scalar,
    describe,
    promote,
    warn_likely_mistake,
)

__all__ = [
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "cosine_embedding_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    "contrastive_loss",
    "info_nce_loss",
    "pairwise_distance",
    "cosine_distance",
]

# ATen's EPSILON in cosine_embedding_loss, added to each squared norm: the C++ float literal 1e-12f, which is
# 9.99999996e-13 once widened to double (not the double 1e-12; it matters where a squared norm is about 1e-12).
_COSINE_EPS = float(np.float32(1e-12))


# ----------------------------------------------------------------------------------------------------------
# Private helpers
# ----------------------------------------------------------------------------------------------------------


def _predictions(arrays, names):
    """Convert several prediction arrays to their promoted float dtype (float32 stays float32, float32 with
    float64 gives float64; integer predictions are refused) and require equal shapes.

    PyTorch broadcasts arrays of equal rank, e.g. an (N, 1) ``input1`` against a (1, N) ``input2`` into an (N, N)
    loss (``margin_ranking_loss`` refuses ranks that differ); lossbook refuses shapes that differ.
    """
    out = list(promote(*(as_prediction(a, n) for a, n in zip(arrays, names, strict=True))))
    for a, n in zip(out[1:], names[1:], strict=True):
        if a.shape != out[0].shape:
            hint = ""
            if a.shape == out[0].shape + (1,) or out[0].shape == a.shape + (1,):
                hint = f" Squeeze the extra axis of size 1 (`{n}.reshape({names[0]}.shape)`)."
            raise ValueError(
                f"`{n}` has shape {a.shape} but `{names[0]}` has shape {out[0].shape}; this loss expects "
                f"{', '.join(f'`{m}`' for m in names)} to have the same shape (lossbook does not broadcast them).{hint}"
            )
    return out


def _sign_target(target, expected_shape, dtype, name="target", per="element"):
    """A target of +1 / -1 values, shaped ``expected_shape``, float (integers become ``dtype``; a float target
    keeps its dtype, for the caller to promote). 0/1 labels are refused with the fix."""
    t = as_float_array(target, name, int_dtype=dtype)
    check_finite(t, name)
    _check_target_shape(t, expected_shape, name, per)
    is_pm1 = (t == 1) | (t == -1)
    if not np.all(is_pm1):
        if np.all((t == 0) | (t == 1)):
            raise ValueError(
                f"`{name}` holds 0/1 labels ({describe(t)}), but this loss expects +1/-1. "
                f"Convert them with `2 * {name} - 1`."
            )
        raise ValueError(
            f"`{name}` must hold only +1 and -1, but it has {describe(t)}. PyTorch gives such values a "
            "meaning nobody intends; lossbook refuses them."
        )
    return t


def _check_target_shape(t, expected_shape, name, per="element"):
    if t.shape == tuple(expected_shape):
        return
    hint = ""
    if t.shape == tuple(expected_shape) + (1,):
        hint = f" Squeeze the trailing axis: `{name}.reshape({tuple(expected_shape)})`."
    elif t.size == int(np.prod(expected_shape)):
        hint = f" Reshape it: `{name}.reshape({tuple(expected_shape)})`."
    raise ValueError(
        f"`{name}` has shape {t.shape}, but this loss expects shape {tuple(expected_shape)} (one label per "
        f"{per}); lossbook does not broadcast targets.{hint}"
    )


def _pow2_scale(x, at_least_one=False):
    """A power of two per row (last axis, kept) close to max |x|, so that x / scale has entries in [-1, 1].

    Dividing by a power of two is exact, so computing a norm as ``scale * norm(x / scale)`` changes no digit of
    the result while keeping the squares from overflowing (or underflowing). Zero and non-finite rows get 1.
    """
    m = np.max(np.abs(x), axis=-1, keepdims=True) if x.shape[-1] else np.zeros(x.shape[:-1] + (1,), x.dtype)
    _, e = np.frexp(np.where(np.isfinite(m), m, 0))
    if at_least_one:
        e = np.maximum(e, 0)
    return np.ldexp(np.ones_like(m), e)


def _pnorm(x, p):
    """||x||_p over the last axis (kept), as torch.linalg.vector_norm, finite wherever the exact norm is.

    The direct formula is used first; rows where it overflowed or may have underflowed (a norm that is not
    comfortably above the smallest normal number, or not finite) are recomputed on rows rescaled by a power
    of two (exact, so no digit changes).
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        n = _pnorm_direct(x, p)
    suspicious = ~(n > np.finfo(x.dtype).tiny ** (1 / min(p, 8)) * 2**20) | ~np.isfinite(n)
    if np.any(suspicious):
        rows = suspicious[..., 0]
        s = _pow2_scale(x[rows])
        n[rows] = _pnorm_direct(x[rows] / s, p) * s
    return n


def _pnorm_direct(u, p):
    if p == 2:
        return np.sqrt(np.einsum("...i,...i->...", u, u))[..., None]
    if p == 1:
        return np.sum(np.abs(u), axis=-1, keepdims=True)
    if np.isinf(p):
        return np.max(np.abs(u), axis=-1, keepdims=True) if u.shape[-1] else np.zeros(u.shape[:-1] + (1,), u.dtype)
    return np.sum(np.abs(u) ** p, axis=-1, keepdims=True) ** (1 / p)


def _pnorm_grad(x, n, p):
    """d ||x||_p / d x (x shaped (..., D), n its kept norm), with PyTorch's choices where it is not differentiable.

    0 for a zero vector (every p); ``sign(x)`` for p = 1 (0 at x_j = 0); for p = inf the sign at the maximal
    entries, shared equally between ties.
    """
    dtype = x.dtype
    if p == 1:
        return np.sign(x)
    if np.isinf(p):
        a = np.abs(x)
        mask = (a == n).astype(dtype)
        return np.sign(x) * mask / np.maximum(mask.sum(axis=-1, keepdims=True), 1)
    s = _pow2_scale(x)  # the gradient is scale-invariant: compute it on rescaled rows
    u, nu = x / s, n / s
    safe = np.where(nu > 0, nu, np.ones((), dtype))
    with np.errstate(divide="ignore", invalid="ignore"):
        if p == 2:
            g = u / safe
        elif p < 1:
            g = np.sign(u) * np.where(u == 0, np.zeros((), dtype), np.abs(u) ** (p - 1)) / safe ** (p - 1)
        else:
            g = np.sign(u) * np.abs(u) ** (p - 1) / safe ** (p - 1)
    return np.where(nu > 0, g, np.zeros((), dtype))


def _check_p(p):
    if not isinstance(p, (bool, np.bool_)) and isinstance(p, (int, float, np.integer, np.floating)) and p == np.inf:
        return float("inf")
    p = check_scalar(p, "p")
    if p <= 0:
        raise ValueError(
            f"`p` must be positive (a p-norm, p = inf allowed), but it is {p!r}. PyTorch also accepts p = 0 "
            "(a count of non-zero entries) and negative p, neither of which is a distance; lossbook refuses them."
        )
    return p


def _grad_dtypes(*arrays):
    """The dtype each gradient is returned in: its argument's float dtype (float64 for lists), as autograd."""
    return [a.dtype if getattr(a, "dtype", None) is not None and a.dtype.kind == "f" else np.float64 for a in arrays]


def _gate_weights(hinge_arg, reduction):
    """d max(0, z) / dz with PyTorch's clamp_min choice (1 at z == 0), times the reduction's scale."""
    return (hinge_arg >= 0).astype(hinge_arg.dtype) * reduction_scale(reduction, hinge_arg.size)


def _min_weights(d1, d2):
    """PyTorch's gradient of minimum(d1, d2): all to the smaller, split 1/2 - 1/2 on a tie."""
    dtype = d1.dtype
    w1 = np.where(d1 < d2, np.ones((), dtype), np.where(d1 == d2, np.asarray(0.5, dtype), np.zeros((), dtype)))
    return w1, 1 - w1


# ----------------------------------------------------------------------------------------------------------
# Distances (usable as `distance_function`)
# ----------------------------------------------------------------------------------------------------------


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    r"""The p-norm distance between matching rows, as ``torch.nn.functional.pairwise_distance``.

    .. math:: d_i = \lVert x_{1,i} - x_{2,i} + \varepsilon \rVert_p

    Note PyTorch's convention: ``eps`` is *added to the difference* (not to the norm), so identical rows are
    at distance ``eps * D**(1/p)``, not 0. The norm runs over the last axis; ``x1`` and ``x2`` must have the same
    shape (PyTorch broadcasts). Any p > 0, including ``np.inf``. Rows whose norm would overflow or underflow
    are rescaled by a power of two first, so the result stays finite and right wherever it is finite exactly
    (PyTorch's ``|x|^p`` overflows beyond about 1e154 for p = 2).

    ``pairwise_distance.grad(x1, x2, ...)`` returns ``(d/dx1, d/dx2)`` of ``sum(d)``; at a zero difference it
    is 0, as PyTorch's norm gradient. Reference: ``torch.nn.functional.pairwise_distance``.
    """
    x1, x2 = _predictions([x1, x2], ["x1", "x2"])
    if x1.ndim == 0:
        raise ValueError("`x1` and `x2` must have at least one axis (the embedding axis), but they are 0-d.")
    p = _check_p(p)
    eps = check_scalar(eps, "eps")
    d = _pnorm(x1 - x2 + eps, p)
    return d if keepdim else d[..., 0]


def _pairwise_distance_grad(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """(d/dx1, d/dx2) of the sum of pairwise distances."""
    dtypes = _grad_dtypes(x1, x2)
    x1, x2 = _predictions([x1, x2], ["x1", "x2"])
    p = _check_p(p)
    eps = check_scalar(eps, "eps")
    diff = x1 - x2 + eps
    g = _pnorm_grad(diff, _pnorm(diff, p), p)
    return g.astype(dtypes[0], copy=False), (-g).astype(dtypes[1], copy=False)


pairwise_distance.grad = _pairwise_distance_grad


def cosine_distance(x1, x2, eps=1e-8):
    r"""One minus the cosine similarity of matching rows, as
    ``1 - torch.nn.functional.cosine_similarity(x1, x2, dim=-1, eps=eps)``.

    .. math:: d_i = 1 - \frac{x_{1,i}}{\max(\lVert x_{1,i}\rVert, \varepsilon)} \cdot
                        \frac{x_{2,i}}{\max(\lVert x_{2,i}\rVert, \varepsilon)}

    Values lie in [0, 2]; a zero row is at distance 1 from everything. ``cosine_distance.grad(x1, x2, eps)``
    returns ``(d/dx1, d/dx2)`` of ``sum(d)`` and reproduces PyTorch's autograd exactly, including its quirk
    for rows shorter than ``eps`` (PyTorch clamps the norm without tracking the clamp).
    Reference: ``torch.nn.functional.cosine_similarity``.
    """
    x1, x2 = _predictions([x1, x2], ["x1", "x2"])
    if x1.ndim == 0:
        raise ValueError("`x1` and `x2` must have at least one axis (the embedding axis), but they are 0-d.")
    eps = check_positive(eps, "eps")
    n1, n2 = _pnorm(x1, 2), _pnorm(x2, 2)
    u1, u2 = x1 / np.maximum(n1, eps), x2 / np.maximum(n2, eps)
    return np.asarray(1 - np.sum(u1 * u2, axis=-1))


def _cosine_distance_grad(x1, x2, eps=1e-8):
    """(d/dx1, d/dx2) of the sum of cosine distances."""
    dtypes = _grad_dtypes(x1, x2)
    x1, x2 = _predictions([x1, x2], ["x1", "x2"])
    eps = check_positive(eps, "eps")
    n1, n2 = _pnorm(x1, 2), _pnorm(x2, 2)
    c1, c2 = np.maximum(n1, eps), np.maximum(n2, eps)
    u1, u2 = x1 / c1, x2 / c2
    cos = np.sum(u1 * u2, axis=-1, keepdims=True)
    g1 = u2 / c1 - cos / c1 * _pnorm_grad(x1, n1, 2)
    g2 = u1 / c2 - cos / c2 * _pnorm_grad(x2, n2, 2)
    return (-g1).astype(dtypes[0], copy=False), (-g2).astype(dtypes[1], copy=False)


cosine_distance.grad = _cosine_distance_grad


# ----------------------------------------------------------------------------------------------------------
# hinge_embedding_loss
# ----------------------------------------------------------------------------------------------------------


def _prepare_hinge(input, target, margin, reduction):
    check_reduction(reduction)
    margin = check_scalar(margin, "margin")
    input = as_prediction(input, "input")
    input, target = promote(input, _sign_target(target, input.shape, input.dtype))
    if input.size > 1 and np.any((input < 0) & (target == 1)):
        warn_likely_mistake(
            f"`input` has negative values where `target` is 1 ({describe(input)}). hinge_embedding_loss expects a "
            "non-negative `input` such as a distance: for target 1 the loss is the input itself, so a negative "
            "input gives a negative loss that is unbounded below. Pass a distance (e.g. pairwise_distance) instead "
            "of a raw score."
        )
    return input, target, margin


@register(
    family="ranking",
    prediction="real values",
    target_dtype="float or int (+1/-1)",
    target_shape="same shape as input",
    target_values="+1 (similar pair: input should be small) or -1 (dissimilar: input should exceed margin)",
    torch_function="torch.nn.functional.hinge_embedding_loss",
    torch_module="torch.nn.HingeEmbeddingLoss",
    reference="Hadsell, Chopra & LeCun, Dimensionality Reduction by Learning an Invariant Mapping, CVPR (2006); "
    "PyTorch documentation of HingeEmbeddingLoss",
)
def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    r"""Hinge embedding loss: keep similar pairs close and push dissimilar pairs beyond a margin.

    .. math:: \ell_i = \begin{cases} x_i & y_i = 1 \\ \max(0,\ \Delta - x_i) & y_i = -1 \end{cases}

    Args:
        input: ``x``, any shape, typically a non-negative distance between two embeddings.
        target: ``y``, same shape, +1 (similar) or -1 (dissimilar).
        margin: ``Δ`` (default 1).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'`` (shaped like ``input``).

    PyTorch's surprises: it computes ``where(y != 1, max(0, Δ - x), 0) + where(y != -1, x, 0)``, so a
    target of 0 (a 0/1 label) silently gets *both* terms, ``x + max(0, Δ - x)``; lossbook refuses any target
    other than ±1 and suggests ``2 * target - 1`` for 0/1 labels. PyTorch also broadcasts a target of another
    shape; lossbook refuses. A negative ``input`` where ``y = 1`` gets a ``LossInputWarning`` (the loss is then
    unbounded below: ``input`` was probably a score, not a distance); single elements are not checked.

    Gradient: 1 where ``y = 1``; for ``y = -1``, -1 where ``x <= Δ`` (PyTorch's choice at the kink ``x = Δ``)
    and 0 beyond.
    Reference: Hadsell, Chopra & LeCun (2006); ``torch.nn.functional.hinge_embedding_loss``.
    """
    input, target, margin = _prepare_hinge(input, target, margin, reduction)
    loss = np.where(target == 1, input, np.maximum(margin - input, 0))
    return reduce(loss, reduction)


@hinge_embedding_loss.defgrad
def _hinge_embedding_loss_grad(input, target, margin=1.0, reduction="mean"):
    """1 for y = 1; -[x <= margin] for y = -1 (PyTorch passes the gradient at the kink), times 1/n for 'mean'."""
    input, target, margin = _prepare_hinge(input, target, margin, reduction)
    neg = -((margin - input) >= 0).astype(input.dtype)
    g = np.where(target == 1, np.ones((), input.dtype), neg)
    return g * reduction_scale(reduction, g.size)


# ----------------------------------------------------------------------------------------------------------
# margin_ranking_loss
# ----------------------------------------------------------------------------------------------------------


def _prepare_ranking(input1, input2, target, margin, reduction):
    check_reduction(reduction)
    margin = check_scalar(margin, "margin")
    input1, input2 = _predictions([input1, input2], ["input1", "input2"])
    input1, input2, target = promote(input1, input2, _sign_target(target, input1.shape, input1.dtype))
    return input1, input2, target, margin


@register(
    family="ranking",
    prediction="scores",
    target_dtype="float or int (+1/-1)",
    target_shape="same shape as input1 (and input2)",
    target_values="+1 means input1 should rank higher than input2, -1 means lower",
    torch_function="torch.nn.functional.margin_ranking_loss",
    torch_module="torch.nn.MarginRankingLoss",
    reference="Herbrich, Graepel & Obermayer, Large Margin Rank Boundaries for Ordinal Regression (2000); "
    "Burges et al., Learning to Rank using Gradient Descent, ICML (2005)",
)
def margin_ranking_loss(input1, input2, target, margin=0, reduction="mean"):
    r"""Margin ranking loss: the pair (input1, input2) should be ordered as the target says, by at least a margin.

    .. math:: \ell_i = \max\bigl(0,\ -y_i\,(x_{1,i} - x_{2,i}) + \Delta\bigr)

    Args:
        input1, input2: scores ``x1``, ``x2`` of the same shape (any shape).
        target: ``y``, same shape, +1 (``x1`` should be larger) or -1 (``x2`` should be larger).
        margin: ``Δ`` (default 0): how much larger.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    PyTorch's surprises: it broadcasts the three arguments when they have the same rank (an (N, 1) ``input1``
    against a (1, N) ``input2`` gives an (N, N) loss; ranks that differ raise a RuntimeError) and accepts any
    target value (0 gives a constant ``max(0, Δ)``); lossbook requires equal shapes and ±1 targets.
    Zero loss exactly when every pair is ordered correctly by at least ``Δ``.

    Gradient: ``(-y, +y)`` where the hinge is active, including at the kink ``-y (x1 - x2) + Δ = 0``
    (PyTorch's choice), and 0 elsewhere.
    Reference: Herbrich et al. (2000); ``torch.nn.functional.margin_ranking_loss``.
    """
    input1, input2, target, margin = _prepare_ranking(input1, input2, target, margin, reduction)
    loss = np.maximum(-target * (input1 - input2) + margin, 0)
    return reduce(loss, reduction)


@margin_ranking_loss.defgrad
def _margin_ranking_loss_grad(input1, input2, target, margin=0, reduction="mean"):
    """(d/d input1, d/d input2) = (-y, y) where -y (x1 - x2) + margin >= 0, else 0; times 1/n for 'mean'."""
    input1, input2, target, margin = _prepare_ranking(input1, input2, target, margin, reduction)
    g1 = -target * _gate_weights(-target * (input1 - input2) + margin, reduction)
    return g1, -g1


# ----------------------------------------------------------------------------------------------------------
# cosine_embedding_loss
# ----------------------------------------------------------------------------------------------------------


def _prepare_cosine(input1, input2, target, margin, reduction):
    check_reduction(reduction)
    margin = check_scalar(margin, "margin")
    if not -1 <= margin <= 1:
        raise ValueError(
            f"`margin` must lie in [-1, 1] (it is compared with a cosine similarity), but it is {margin!r}. "
            "PyTorch accepts any margin; values in [0, 0.5] are the usual choice."
        )
    input1, input2 = _predictions([input1, input2], ["input1", "input2"])
    if input1.ndim not in (1, 2):
        raise ValueError(
            f"`input1` and `input2` must have shape (N, D) or (D,), but they have shape {input1.shape}. "
            "Flatten the batch axes first, e.g. `input1.reshape(-1, D)`."
        )
    target = _sign_target(target, input1.shape[:-1], input1.dtype, per="pair of embeddings (row)")
    input1, input2, target = promote(input1, input2, target)
    return input1, input2, target, margin


def _cosine_parts(x1, x2):
    """ATen's cosine: sum(x1 x2) / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)).

    Returns the rows u = x / s, their scales s (1 unless the squared norms overflow, then powers of two),
    the scaled squared norms m (eps included) and cos.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        m1 = np.einsum("...i,...i->...", x1, x1)[..., None] + _COSINE_EPS
        m2 = np.einsum("...i,...i->...", x2, x2)[..., None] + _COSINE_EPS
        root = np.sqrt(m1 * m2)
    if np.all(np.isfinite(root)):  # the common case: no rescaling needed (scales of 1)
        one = np.ones((), x1.dtype)
        return x1, x2, one, one, m1, m2, np.einsum("...i,...i->...", x1, x2)[..., None] / root
    s1, s2 = _pow2_scale(x1, at_least_one=True), _pow2_scale(x2, at_least_one=True)
    u1, u2 = x1 / s1, x2 / s2
    m1 = np.sum(u1 * u1, axis=-1, keepdims=True) + _COSINE_EPS / s1 / s1
    m2 = np.sum(u2 * u2, axis=-1, keepdims=True) + _COSINE_EPS / s2 / s2
    cos = np.sum(u1 * u2, axis=-1, keepdims=True) / np.sqrt(m1 * m2)
    return u1, u2, s1, s2, m1, m2, cos


@register(
    family="ranking",
    prediction="embeddings",
    target_dtype="float or int (+1/-1)",
    target_shape="(N,) for (N, D) embeddings, () for (D,)",
    target_values="+1 (the two embeddings should point the same way) or -1 (their cosine should fall below margin)",
    torch_function="torch.nn.functional.cosine_embedding_loss",
    torch_module="torch.nn.CosineEmbeddingLoss",
    reference="PyTorch documentation of CosineEmbeddingLoss; Hadsell, Chopra & LeCun (2006) for the "
    "similar/dissimilar hinge",
)
def cosine_embedding_loss(input1, input2, target, margin=0, reduction="mean"):
    r"""Cosine embedding loss: align similar pairs, push the cosine of dissimilar pairs below a margin.

    .. math:: \cos_i = \frac{x_{1,i}\cdot x_{2,i}}{\sqrt{(\lVert x_{1,i}\rVert^2 + \epsilon)
                       (\lVert x_{2,i}\rVert^2 + \epsilon)}},\ \epsilon = 10^{-12}, \qquad
              \ell_i = \begin{cases} 1 - \cos_i & y_i = 1 \\ \max(0,\ \cos_i - \Delta) & y_i = -1 \end{cases}

    Args:
        input1, input2: embeddings of shape (N, D), or (D,) for a single pair.
        target: ``y`` of shape (N,) (or () for a single pair), +1 or -1.
        margin: ``Δ`` in [-1, 1] (default 0).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'`` (shape (N,) or ()).

    PyTorch's conventions: the ``ε = 1e-12`` (ATen's float constant, 9.99999996e-13 in double precision) is
    added to each *squared* norm (so a zero vector has cosine 0 with everything, loss 1 for ``y = 1``); targets
    other than ±1 silently give 0 loss (lossbook refuses them); any margin is accepted (lossbook requires
    [-1, 1]); the two inputs broadcast (lossbook requires equal shapes). Where the squared norms would overflow
    (embeddings beyond about 1e154) the rows are rescaled by a power of two first, which changes no digit but
    keeps the result finite (PyTorch returns NaN there).

    Gradient: with ``m_k = |x_k|^2 + ε``, ``∂cos/∂x_1 = x_2/\sqrt{m_1 m_2} - \cos\, x_1/m_1``; the loss passes
    ``-∂cos`` for ``y = 1`` and ``+∂cos`` where ``cos >= Δ`` for ``y = -1`` (PyTorch's choice at the kink).
    Reference: ``torch.nn.functional.cosine_embedding_loss``.
    """
    input1, input2, target, margin = _prepare_cosine(input1, input2, target, margin, reduction)
    cos = _cosine_parts(input1, input2)[-1][..., 0]
    loss = np.where(target == 1, 1 - cos, np.maximum(cos - margin, 0))
    return reduce(loss, reduction)


@cosine_embedding_loss.defgrad
def _cosine_embedding_loss_grad(input1, input2, target, margin=0, reduction="mean"):
    """(d/d input1, d/d input2): -dcos for y = 1, dcos where cos >= margin for y = -1; 1/N for 'mean'."""
    input1, input2, target, margin = _prepare_cosine(input1, input2, target, margin, reduction)
    u1, u2, s1, s2, m1, m2, cos = _cosine_parts(input1, input2)
    t = target[..., None]
    coef = np.where(t == 1, -np.ones((), cos.dtype), (cos - margin >= 0).astype(cos.dtype))
    coef = coef * reduction_scale(reduction, target.size)
    root = np.sqrt(m1 * m2)
    g1 = coef * (u2 / root - cos * u1 / m1) / s1
    g2 = coef * (u1 / root - cos * u2 / m2) / s2
    return g1, g2


# ----------------------------------------------------------------------------------------------------------
# triplet_margin_loss and triplet_margin_with_distance_loss
# ----------------------------------------------------------------------------------------------------------


def _prepare_triplet(anchor, positive, negative, margin, reduction):
    check_reduction(reduction)
    margin = check_scalar(margin, "margin")
    if margin <= 0:
        raise ValueError(
            f"`margin` must be positive, but it is {margin!r}: with margin <= 0 the loss is satisfied by "
            "d(anchor, positive) = d(anchor, negative) and learns nothing. Use e.g. margin=1.0 (or 0.2 for "
            "unit-norm embeddings)."
        )
    anchor, positive, negative = _predictions([anchor, positive, negative], ["anchor", "positive", "negative"])
    if anchor.ndim == 0:
        raise ValueError(
            "`anchor`, `positive` and `negative` must be embeddings of shape (N, D) or (D,), but they are 0-d."
        )
    return anchor, positive, negative, margin


def _triplet_grads(dists, grads, margin, swap, reduction):
    """The shared gradient of max(0, margin + d(a,p) - d'(a,n)), d' = min(d(a,n), d(p,n)) when swapping.

    ``dists``: (d_ap, d_an, d_pn or None); ``grads``: pairs (g_x1, g_x2) of each distance's gradient.
    """
    d_ap, d_an, d_pn = dists
    (ap_a, ap_p), (an_a, an_n), pn = grads
    d_neg = np.minimum(d_an, d_pn) if swap else d_an
    w = _gate_weights(margin + d_ap - d_neg, reduction)[..., None]
    if swap:
        alpha, beta = _min_weights(d_an, d_pn)
        alpha, beta = alpha[..., None], beta[..., None]
        pn_p, pn_n = pn
        return (w * (ap_a - alpha * an_a), w * (ap_p - beta * pn_p), w * (-alpha * an_n - beta * pn_n))
    return w * (ap_a - an_a), w * ap_p, -w * an_n


@register(
    family="ranking",
    prediction="embeddings",
    target_dtype="none",
    target_shape="none",
    target_values="no target: the (anchor, positive, negative) roles are the supervision",
    torch_function="torch.nn.functional.triplet_margin_loss",
    torch_module="torch.nn.TripletMarginLoss",
    reference="Schroff, Kalenichenko & Philbin, FaceNet, CVPR (2015); Weinberger & Saul, JMLR (2009); "
    "Balntas et al., BMVC (2016) for swap",
)
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-06, swap=False, reduction="mean"):
    r"""Triplet margin loss: each anchor should be nearer its positive than its negative, by a margin.

    .. math:: d(u, v) = \lVert u - v + \varepsilon \rVert_p, \qquad
              \ell_i = \max\bigl(0,\ \Delta + d(a_i, p_i) - d(a_i, n_i)\bigr)

    With ``swap=True`` (Balntas et al. 2016) the negative distance is ``min(d(a_i, n_i), d(p_i, n_i))``: the
    harder of the two.

    Args:
        anchor, positive, negative: embeddings of the same shape, (N, D) or (D,) (any leading axes: the norm
            runs over the last axis).
        margin: ``Δ > 0`` (default 1).
        p: the norm's order, any p > 0 including ``np.inf`` (default 2).
        eps: added to every *difference* before the norm, PyTorch's ``pairwise_distance`` convention (default 1e-6).
        swap: use the distance swap.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'`` (shape (N,), or () unbatched).

    PyTorch's surprises: ``eps`` shifts the difference, so ``d(x, x) = eps * D**(1/p)`` rather than 0; the
    three inputs broadcast (lossbook requires equal shapes); p = 0 and negative p are accepted (lossbook
    refuses: not distances). Both refuse margin <= 0. For embeddings beyond about 1e154 PyTorch's norm
    overflows and the loss is NaN; lossbook rescales those rows and stays finite (see :func:`pairwise_distance`).

    Gradient: a tuple ``(d/d anchor, d/d positive, d/d negative)``. PyTorch's choices where it is not
    differentiable: at the hinge's kink the gradient passes; the norm's gradient is 0 at a zero difference
    (and ``sign`` is 0 at zero entries for p = 1); with ``swap`` a tie ``d(a,n) = d(p,n)`` splits the gradient
    half and half.
    Reference: Schroff et al. (2015); ``torch.nn.functional.triplet_margin_loss``.
    """
    anchor, positive, negative, margin = _prepare_triplet(anchor, positive, negative, margin, reduction)
    p, eps = _check_p(p), check_scalar(eps, "eps")
    d_ap = _pnorm(anchor - positive + eps, p)[..., 0]
    d_an = _pnorm(anchor - negative + eps, p)[..., 0]
    if swap:
        d_an = np.minimum(d_an, _pnorm(positive - negative + eps, p)[..., 0])
    return reduce(np.maximum(margin + d_ap - d_an, 0), reduction)


@triplet_margin_loss.defgrad
def _triplet_margin_loss_grad(anchor, positive, negative, margin=1.0, p=2, eps=1e-06, swap=False, reduction="mean"):
    """(d/d anchor, d/d positive, d/d negative) of the reduced triplet margin loss."""
    anchor, positive, negative, margin = _prepare_triplet(anchor, positive, negative, margin, reduction)
    p, eps = _check_p(p), check_scalar(eps, "eps")
    pairs = [(anchor, positive), (anchor, negative)] + ([(positive, negative)] if swap else [])
    dists, grads = [], []
    for x1, x2 in pairs:  # two or three distances, not a loop over samples
        diff = x1 - x2 + eps
        d = _pnorm(diff, p)
        g = _pnorm_grad(diff, d, p)
        dists.append(d[..., 0])
        grads.append((g, -g))
    if not swap:
        dists.append(None)
        grads.append(None)
    return _triplet_grads(dists, grads, margin, swap, reduction)


def _distance_values(distance_function, x1, x2, expected_shape):
    d = np.asarray(distance_function(x1, x2))
    if d.shape != expected_shape:
        raise ValueError(
            f"`distance_function` returned shape {d.shape} for inputs of shape {x1.shape}; it must return one "
            f"distance per row, shape {expected_shape} (reduce over the last axis only)."
        )
    return d.astype(x1.dtype, copy=False)


@register(
    family="ranking",
    prediction="embeddings",
    target_dtype="none",
    target_shape="none",
    target_values="no target: the (anchor, positive, negative) roles are the supervision",
    torch_function="torch.nn.functional.triplet_margin_with_distance_loss",
    torch_module="torch.nn.TripletMarginWithDistanceLoss",
    reference="Schroff, Kalenichenko & Philbin, FaceNet, CVPR (2015); Balntas et al., BMVC (2016) for swap",
)
def triplet_margin_with_distance_loss(
    anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False, reduction="mean"
):
    r"""Triplet margin loss with any distance: anchors nearer their positives than their negatives, by a margin.

    .. math:: \ell_i = \max\bigl(0,\ \Delta + d(a_i, p_i) - d(a_i, n_i)\bigr)

    (with ``swap``, ``d(a_i, n_i)`` is replaced by ``min(d(a_i, n_i), d(p_i, n_i))``).

    Args:
        anchor, positive, negative: embeddings of the same shape, (N, D) or (D,).
        distance_function: ``None`` (default) for :func:`pairwise_distance` with p = 2 and eps = 1e-6 (as
            PyTorch's default ``torch.pairwise_distance``), or a callable taking two NumPy arrays ``(x1, x2)``
            of shape (N, D) and returning the (N,) distances of matching rows (a 0-d array for (D,) inputs).
        margin: ``Δ > 0`` (default 1). swap: use the distance swap. reduction: as everywhere.

    The distance protocol, for ``.grad``: lossbook has no autograd, so the gradient needs the distance's own
    gradient. The distance must carry an attribute ``grad(x1, x2) -> (g1, g2)``, the gradients of
    ``sum(distance(x1, x2))`` with respect to ``x1`` and ``x2`` (shaped like them; each distance must depend on
    its own row only). :func:`pairwise_distance` and :func:`cosine_distance` have one; for other parameters::

        def l1(x1, x2): return lossbook.pairwise_distance(x1, x2, p=1)
        l1.grad = lambda x1, x2: lossbook.pairwise_distance.grad(x1, x2, p=1)

    A callable without ``.grad`` works for the value; ``.grad`` then raises a ``TypeError`` saying so.

    Gradient: a tuple ``(d/d anchor, d/d positive, d/d negative)``, with PyTorch's choices (the gradient passes
    at the hinge's kink; a swap tie splits it half and half).
    Reference: Schroff et al. (2015); ``torch.nn.functional.triplet_margin_with_distance_loss``.
    """
    anchor, positive, negative, margin = _prepare_triplet(anchor, positive, negative, margin, reduction)
    dist = pairwise_distance if distance_function is None else distance_function
    if not callable(dist):
        raise TypeError(f"`distance_function` must be callable or None, but it is {dist!r}.")
    shape = anchor.shape[:-1]
    d_ap = _distance_values(dist, anchor, positive, shape)
    d_an = _distance_values(dist, anchor, negative, shape)
    if swap:
        d_an = np.minimum(d_an, _distance_values(dist, positive, negative, shape))
    return reduce(np.maximum(margin + d_ap - d_an, 0), reduction)


@triplet_margin_with_distance_loss.defgrad
def _triplet_margin_with_distance_loss_grad(
    anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False, reduction="mean"
):
    """(d/d anchor, d/d positive, d/d negative), through ``distance_function.grad``."""
    anchor, positive, negative, margin = _prepare_triplet(anchor, positive, negative, margin, reduction)
    dist = pairwise_distance if distance_function is None else distance_function
    if not callable(getattr(dist, "grad", None)):
        raise TypeError(
            f"`distance_function` ({getattr(dist, '__name__', type(dist).__name__)}) has no `.grad`, so lossbook "
            "cannot differentiate through it. Use lossbook.pairwise_distance or lossbook.cosine_distance, or attach "
            "`grad(x1, x2) -> (d sum(d)/d x1, d sum(d)/d x2)` to your function (see the docstring)."
        )
    shape = anchor.shape[:-1]
    pairs = [(anchor, positive), (anchor, negative)] + ([(positive, negative)] if swap else [])
    dists, grads = [], []
    for x1, x2 in pairs:
        dists.append(_distance_values(dist, x1, x2, shape))
        g1, g2 = dist.grad(x1, x2)
        grads.append((np.asarray(g1, anchor.dtype), np.asarray(g2, anchor.dtype)))
    if not swap:
        dists.append(None)
        grads.append(None)
    return _triplet_grads(dists, grads, margin, swap, reduction)


# ----------------------------------------------------------------------------------------------------------
# contrastive_loss (beyond PyTorch)
# ----------------------------------------------------------------------------------------------------------


def _prepare_contrastive(input1, input2, target, margin, reduction):
    check_reduction(reduction)
    margin = check_positive(margin, "margin")
    input1, input2 = _predictions([input1, input2], ["input1", "input2"])
    if input1.ndim == 0:
        raise ValueError("`input1` and `input2` must be embeddings of shape (N, D) or (D,), but they are 0-d.")
    t = as_float_array(target, "target", int_dtype=input1.dtype)
    check_finite(t, "target")
    _check_target_shape(t, input1.shape[:-1], "target", per="pair of embeddings (row)")
    input1, input2, t = promote(input1, input2, t)
    if not np.all((t == 0) | (t == 1)):
        if np.all((t == 1) | (t == -1)):
            raise ValueError(
                f"`target` holds -1/+1 labels ({describe(t)}), but contrastive_loss expects 1 (similar pair) and "
                "0 (dissimilar pair). Convert them with `(target + 1) / 2`."
            )
        raise ValueError(f"`target` must hold 1 (similar) or 0 (dissimilar), but it has {describe(t)}.")
    return input1, input2, t, margin


@register(
    family="ranking",
    prediction="embeddings",
    target_dtype="float or int (0/1)",
    target_shape="(N,) for (N, D) embeddings, () for (D,)",
    target_values="1 = similar pair (pull together), 0 = dissimilar pair (push beyond margin)",
    torch_function=None,
    torch_module=None,
    reference="Hadsell, Chopra & LeCun, Dimensionality Reduction by Learning an Invariant Mapping, CVPR (2006)",
)
def contrastive_loss(input1, input2, target, margin=1.0, reduction="mean"):
    r"""Contrastive loss (Hadsell, Chopra & LeCun 2006): pull similar pairs together, push dissimilar ones apart.

    .. math:: d_i = \lVert x_{1,i} - x_{2,i} \rVert_2, \qquad
              \ell_i = \tfrac12\, y_i\, d_i^2 + \tfrac12\,(1 - y_i)\,\max(0,\ \Delta - d_i)^2

    **lossbook's convention** (the ones in circulation differ, check before comparing numbers):

    * ``target`` 1 means *similar*, 0 *dissimilar* (the paper uses Y = 0 for similar; some libraries use ±1).
      -1/+1 labels are refused with the fix ``(target + 1) / 2``.
    * The paper's factor ½ on both terms is **included**; many implementations drop it (their loss is twice
      ours), and some average the two terms differently.
    * Squared Euclidean distance for similar pairs and a squared hinge for dissimilar ones (not the unsquared
      variants); no ``eps`` is added: ``d = 0`` for identical embeddings, so a perfect similar pair costs exactly 0.

    Args:
        input1, input2: embeddings of the same shape, (N, D) or (D,) (any leading axes).
        target: ``y`` of shape (N,) (or () for one pair), 1 or 0.
        margin: ``Δ > 0`` (default 1).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Gradient, a tuple ``(d/d input1, d/d input2 = -d/d input1)``:
    ``y (x_1 - x_2) - (1-y) \max(0, Δ - d)\,(x_1 - x_2)/d``. At ``d = 0`` the second term's direction is
    undefined; lossbook takes 0 there, as PyTorch's norm gradient does (no eps is needed).
    Not in PyTorch; the tests compare with a reference written in torch.
    Reference: Hadsell, Chopra & LeCun (2006).
    """
    input1, input2, target, margin = _prepare_contrastive(input1, input2, target, margin, reduction)
    diff = input1 - input2
    d = _pnorm(diff, 2)[..., 0]
    squared = np.einsum("...i,...i->...", diff, diff)  # sum of diff * diff, without the (N, D) temporary
    loss = 0.5 * target * squared + 0.5 * (1 - target) * np.maximum(margin - d, 0) ** 2
    return reduce(loss, reduction)


@contrastive_loss.defgrad
def _contrastive_loss_grad(input1, input2, target, margin=1.0, reduction="mean"):
    """(d/d input1, d/d input2) of the reduced contrastive loss."""
    input1, input2, target, margin = _prepare_contrastive(input1, input2, target, margin, reduction)
    diff = input1 - input2
    d = _pnorm(diff, 2)
    t = target[..., None]
    # y diff - (1 - y) max(0, margin - d) diff / d: one factor per row times diff (0 where d = 0, as PyTorch)
    push = np.maximum(margin - d, 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        factor = t - (1 - t) * np.where(d > 0, push / d, np.zeros((), d.dtype))
    factor *= reduction_scale(reduction, target.size)
    tiny = ~np.isfinite(factor[..., 0])  # d so small that push / d overflows: go through the unit vector
    g = diff * factor
    if np.any(tiny):
        unit = _pnorm_grad(diff[tiny], d[tiny], 2)
        g[tiny] = (t[tiny] * diff[tiny] - (1 - t[tiny]) * push[tiny] * unit) * reduction_scale(reduction, target.size)
    return g, -g


# ----------------------------------------------------------------------------------------------------------
# info_nce_loss (beyond PyTorch)
# ----------------------------------------------------------------------------------------------------------

_NORMALIZE_EPS = 1e-12  # torch.nn.functional.normalize's default


def _prepare_info_nce(anchors, positives, temperature, reduction, symmetric):
    check_reduction(reduction)
    temperature = check_positive(temperature, "temperature")
    if not isinstance(symmetric, (bool, np.bool_)):
        raise TypeError(f"`symmetric` must be True or False, but it is {symmetric!r}.")
    anchors, positives = _predictions([anchors, positives], ["anchors", "positives"])
    if anchors.ndim != 2:
        fix = ""
        if anchors.ndim == 1:
            fix = " For a single pair use `anchors.reshape(1, -1)` (but see the warning about one pair)."
        raise ValueError(
            f"`anchors` and `positives` must have shape (N, D): N pairs of D-dimensional embeddings, but they have "
            f"shape {anchors.shape}.{fix}"
        )
    if anchors.shape[0] == 1:
        warn_likely_mistake(
            "info_nce_loss got a single pair (N = 1): with no other rows there are no negatives, so the loss and its "
            "gradient are identically 0. InfoNCE needs a batch of N > 1 pairs."
        )
    return anchors, positives, temperature


def _normalize(x):
    """x / max(||x||, 1e-12) per row, as torch.nn.functional.normalize; returns (unit rows, norms)."""
    n = _pnorm(x, 2)
    return x / np.maximum(n, _NORMALIZE_EPS), n


def _normalize_backward(g, u, n):
    """Push a gradient through normalize: (g - u (u.g)) / n, or g / eps where the norm was clamped (as autograd)."""
    big = n >= _NORMALIZE_EPS
    proj = g - u * np.sum(u * g, axis=-1, keepdims=True)
    return np.where(big, proj / np.where(big, n, 1), g / _NORMALIZE_EPS)


def _info_nce_logits(anchors, positives, temperature):
    a, na = _normalize(anchors)
    p, npos = _normalize(positives)
    return a, na, p, npos, (a @ p.T) / temperature


@register(
    family="ranking",
    prediction="embeddings",
    target_dtype="none (positives are given by position)",
    target_shape="positives: same shape as anchors, (N, D)",
    target_values="row i of positives is the positive for row i of anchors; every other row is a negative",
    torch_function=None,
    torch_module=None,
    reference="van den Oord, Li & Vinyals, Representation Learning with Contrastive Predictive Coding (2018); "
    "Chen et al., A Simple Framework for Contrastive Learning (SimCLR), ICML (2020)",
)
def info_nce_loss(anchors, positives, temperature=0.1, reduction="mean", symmetric=False):
    r"""InfoNCE: each anchor must pick out its own positive among all the positives in the batch.

    .. math:: s_{ij} = \frac{\hat a_i \cdot \hat p_j}{\tau}, \quad \hat x = \frac{x}{\max(\lVert x\rVert, 10^{-12})},
              \qquad \ell_i = -\log \frac{e^{s_{ii}}}{\sum_{j=1}^{N} e^{s_{ij}}}

    Cross-entropy of row i of the (N, N) cosine-similarity matrix, with target class i. With ``symmetric=True``
    the loss also asks each positive to pick out its anchor (the column-wise cross-entropy) and averages the
    two directions, ``ℓ_i = ½(ℓ_i^{a→p} + ℓ_i^{p→a})`` as in CLIP (Radford et al. 2021). SimCLR's NT-Xent
    (Chen et al. 2020) additionally treats the other anchors as negatives of each anchor (2N - 2 negatives);
    that variant is not provided here (``lossbook.book.embeddings.nt_xent_loss`` is a torch version).

    Args:
        anchors, positives: (N, D) embeddings, N > 1 (one pair has no negatives: a ``LossInputWarning``).
        temperature: ``τ > 0`` (default 0.1).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'`` (shape (N,)).
        symmetric: average the anchor→positive and positive→anchor losses.

    The loss is >= 0 (a negative log-probability) and never reaches 0: it is at least
    ``log(1 + (N - 1) e^{-2/τ}) > 0``, the value if every positive were aligned with its anchor and every negative
    opposite, a bound that shrinks with the temperature and cannot be attained for N > 2 (N - 1 distinct
    positives cannot all be antipodal to one anchor). It is computed with a stable log-softmax, so tiny
    temperatures and huge embeddings (normalised first) stay finite.

    Gradient: ``(d/d anchors, d/d positives)``: ``(softmax(S) - I)/τ`` pushed through the matrix product and
    the normalisation (which, like ``torch.nn.functional.normalize``, passes ``g / 1e-12`` for rows shorter
    than 1e-12).
    Not in PyTorch; the tests compare with ``F.cross_entropy(F.normalize(a) @ F.normalize(p).T / τ, arange(N))``.
    Reference: van den Oord et al. (2018) for InfoNCE (with a log-bilinear critic); the normalised cosine over a
    temperature is that of Wu et al. (2018) and Chen et al. (2020).
    """
    anchors, positives, temperature = _prepare_info_nce(anchors, positives, temperature, reduction, symmetric)
    s = _info_nce_logits(anchors, positives, temperature)[-1]
    loss = -np.diagonal(log_softmax(s, axis=1))
    if symmetric:
        loss = 0.5 * (loss - np.diagonal(log_softmax(s, axis=0)))
    return reduce(loss, reduction)


@info_nce_loss.defgrad
def _info_nce_loss_grad(anchors, positives, temperature=0.1, reduction="mean", symmetric=False):
    """(d/d anchors, d/d positives) of the reduced InfoNCE loss."""
    anchors, positives, temperature = _prepare_info_nce(anchors, positives, temperature, reduction, symmetric)
    a, na, p, npos, s = _info_nce_logits(anchors, positives, temperature)
    n = s.shape[0]
    eye = np.eye(n, dtype=s.dtype)
    gs = softmax(s, axis=1) - eye
    if symmetric:
        gs = 0.5 * (gs + softmax(s, axis=0) - eye)
    gs = gs * (reduction_scale(reduction, n) / temperature)
    return _normalize_backward(gs @ p, a, na), _normalize_backward(gs.T @ a, p, npos)
