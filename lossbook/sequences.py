r"""Losses of sequence models: :func:`ctc_loss` (connectionist temporal classification) and
:func:`token_cross_entropy` (next-token cross-entropy over a ``(B, T, V)`` batch, with the normalisation that
keeps gradient accumulation exact).

``ctc_loss`` follows PyTorch's ``torch.nn.functional.ctc_loss`` exactly (the CPU kernel
``aten/src/ATen/native/LossCTC.cpp`` is the model: the same forward-backward recursion in log space over the
extended label sequence blank, l1, blank, l2, ..., blank). It is vectorised over the batch and the lattice
states; the recursion loops over time.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._registry import register
from ._validation import (
    as_index_array,
    as_prediction,
    check_reduction,
    describe,
    warn_likely_mistake,
)
from .softmax import cross_entropy

__all__ = ["ctc_loss", "token_cross_entropy"]

_NEG_INF = -np.inf


# ----------------------------------------------------------------------------------------------------------------
# ctc_loss
# ----------------------------------------------------------------------------------------------------------------


def _lengths(x, name, n, batched):
    """Lengths given as an int, a list, a tuple or an integer array -> int64 array of shape (n,)."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        raise TypeError(f"`{name}` is a torch.Tensor; lossbook works on NumPy arrays. "
                        f"Pass `{name}.tolist()` or `{name}.numpy()` instead.")
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"`{name}` must hold integer lengths (an int, a list, a tuple or an integer array), "
                        f"but it has {describe(a)}. Convert it with `np.asarray({name}, dtype=np.int64)`.")
    a = a.astype(np.int64).reshape(-1) if a.ndim == 0 or not batched else a.astype(np.int64)
    if a.ndim != 1 or a.shape[0] != n:
        what = "one length per sequence of the batch" if batched else "a single length (unbatched input)"
        raise ValueError(f"`{name}` must hold {what}, {n} value(s), but it has shape {a.shape}.")
    if a.size and a.min() < 0:
        raise ValueError(f"`{name}` must be non-negative, but it holds {a.min()}.")
    return a


def _ctc_prepare(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity):
    check_reduction(reduction)
    if not isinstance(zero_infinity, (bool, np.bool_)):
        raise TypeError(f"`zero_infinity` must be True or False, but it is {zero_infinity!r}.")
    lp = as_prediction(log_probs, "log_probs")
    if lp.ndim not in (2, 3):
        raise ValueError(f"`log_probs` must have shape (T, N, C) (time, batch, classes) or (T, C) for one "
                         f"sequence, but it has shape {lp.shape}.")
    batched = lp.ndim == 3
    if not batched:
        lp = lp[:, None, :]
    T, N, C = lp.shape
    if isinstance(blank, bool) or not isinstance(blank, numbers.Integral) or not 0 <= blank < C:
        raise ValueError(f"`blank` must be an integer class index in [0, {C - 1}] (the log_probs have {C} "
                         f"classes), but it is {blank!r}.")
    blank = int(blank)
    if batched and np.ndim(input_lengths) == 1 and len(input_lengths) != N and len(input_lengths) == T:
        raise ValueError(
            f"`log_probs` has shape {lp.shape} and `input_lengths` has {T} entries: ctc_loss expects time first, "
            f"(T, N, C), and this looks like a batch-first (N, T, C) array with N = {T}. Transpose it with "
            f"`log_probs.transpose(1, 0, 2)` (in PyTorch: `log_probs.transpose(0, 1)`, or build the model with "
            f"batch_first=False).")
    il = _lengths(input_lengths, "input_lengths", N, batched)
    tl = _lengths(target_lengths, "target_lengths", N, batched)
    if il.size and il.max() > T:
        raise ValueError(f"`input_lengths` holds {il.max()}, longer than the {T} time steps of `log_probs` "
                         f"(shape {lp.shape}, time first). Each input length must be at most T.")
    tg = as_index_array(targets, "targets")
    if not batched:
        if tg.ndim != 1:
            raise ValueError(f"For unbatched `log_probs` of shape (T, C), `targets` must be 1-D (S,), but it has "
                             f"shape {tg.shape}.")
        if tl[0] > tg.shape[0]:
            raise ValueError(f"`target_lengths` is {tl[0]}, longer than `targets` ({tg.shape[0]} labels).")
        padded = tg[None, :tl[0]]
    elif tg.ndim == 2:
        if tg.shape[0] != N:
            raise ValueError(f"Padded `targets` must have shape (N, S) with N = {N} (the batch axis of "
                             f"`log_probs`), but it has shape {tg.shape}.")
        if tl.size and tl.max() > tg.shape[1]:
            raise ValueError(f"`target_lengths` holds {tl.max()}, longer than the padded `targets` (shape "
                             f"{tg.shape}, so at most {tg.shape[1]} labels per sequence).")
        padded = tg
    elif tg.ndim == 1:
        if tg.shape[0] != tl.sum():
            raise ValueError(f"1-D `targets` are the concatenation of every sequence's labels, so they must have "
                             f"sum(target_lengths) = {tl.sum()} entries, but they have {tg.shape[0]}. For padded "
                             f"targets pass an (N, S) array.")
        padded = np.zeros((N, max(int(tl.max(initial=0)), 1)), dtype=np.int64)
        ends = np.cumsum(tl)
        for n in range(N):
            padded[n, :tl[n]] = tg[ends[n] - tl[n]:ends[n]]
    else:
        raise ValueError(f"`targets` must be padded (N, S) or concatenated 1-D, but it has shape {tg.shape}.")
    S = int(tl.max(initial=0))
    labels = padded[:, :S].copy()
    used = np.arange(S)[None, :] < tl[:, None]
    if used.any():
        vals = labels[used]
        if vals.min() < 0 or vals.max() >= C:
            raise IndexError(f"`targets` hold labels in [{vals.min()}, {vals.max()}], but `log_probs` has {C} "
                             f"classes, so labels must lie in [0, {C - 1}] (and differ from blank = {blank}).")
        if (vals == blank).any():
            n_bad = int((vals == blank).sum())
            raise ValueError(
                f"`targets` contain the blank label {blank} ({n_bad} time(s) within the target lengths). The blank "
                f"is reserved for 'no label' and may not appear in a target; PyTorch would silently compute a "
                f"wrong loss. Shift the labels (e.g. classes 1..C-1 with blank=0), or set `blank` to an unused class.")
    labels[~used] = blank
    if lp.size and lp.max() > 0:
        warn_likely_mistake(
            "ctc_loss expects log-probabilities (log_softmax over the class axis), which are <= 0, but "
            f"`log_probs` has values up to {lp.max():.4g}: if these are logits, pass log_softmax(logits, axis=2); "
            "if they are probabilities (softmax output), take their log.",
        )
    return lp, labels, il, tl, blank, batched


def _lattice(lp, labels, tl, blank):
    """Extended labels (N, L), allowed skips (N, L), and log-probabilities along the lattice (T, N, L)."""
    N, S = labels.shape
    L = 2 * S + 1
    ext = np.full((N, L), blank, dtype=np.int64)
    ext[:, 1::2] = labels
    skip = np.zeros((N, L), dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    lpe = np.take_along_axis(lp, ext[None, :, :], axis=2)
    return ext, skip, lpe


def _lse3(a, b, c):
    """Element-wise log(e^a + e^b + e^c), with -inf where all three are -inf."""
    m = np.maximum(np.maximum(a, b), c)
    ms = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ms + np.log(np.exp(a - ms) + np.exp(b - ms) + np.exp(c - ms))


def _ctc_forward(lp, labels, il, tl, blank):
    """Log alphas (T, N, L) and the negative log-likelihood (N,) of each sequence."""
    T, N, _ = lp.shape
    ext, skip, lpe = _lattice(lp, labels, tl, blank)
    L = ext.shape[1]
    dt = lp.dtype
    neg = np.asarray(_NEG_INF, dtype=dt)
    alpha = np.full((T, N, L), _NEG_INF, dtype=dt)
    if T:
        alpha[0, :, 0] = lpe[0, :, 0]
        if L > 1:
            alpha[0, :, 1] = lpe[0, :, 1]
    s1 = np.full((N, L), _NEG_INF, dtype=dt)
    s2 = np.full((N, L), _NEG_INF, dtype=dt)
    for t in range(1, T):
        a = alpha[t - 1]
        s1[:, 1:] = a[:, :-1]
        s2[:, 2:] = np.where(skip[:, 2:], a[:, :-2], neg)
        new = _lse3(a, s1, s2) + lpe[t]
        alpha[t] = np.where((t < il)[:, None], new, a)  # a finished sequence keeps its last alphas
    n = np.arange(N)
    last = alpha[np.maximum(il - 1, 0), n] if T else np.full((N, L), _NEG_INF, dtype=dt)
    end = last[n, 2 * tl]
    before = np.where(tl > 0, last[n, np.maximum(2 * tl - 1, 0)], neg)
    nll = -np.logaddexp(end, before)
    nll = np.where(il == 0, np.where(tl == 0, 0.0, np.inf), nll).astype(dt)
    return alpha, nll, ext, skip, lpe


def _ctc_scale(reduction, tl, N, dt):
    if reduction == "mean":
        return (1.0 / (np.maximum(tl, 1) * N)).astype(dt)
    return np.ones(N, dtype=dt)


@register(
    family="sequences",
    prediction="log-probabilities",
    target_dtype="int64 labels, and int lengths",
    target_shape="targets (N, S) padded or 1-D concatenated (sum(target_lengths),); input_lengths and "
    "target_lengths (N,); log_probs (T, N, C), time first",
    target_values="labels in [0, C-1] except blank; input_lengths <= T; target_lengths <= S",
    torch_function="torch.nn.functional.ctc_loss",
    torch_module="torch.nn.CTCLoss",
    reference="Graves, Fernández, Gomez & Schmidhuber, Connectionist temporal classification, ICML 2006",
    wrt=("log_probs",),
)
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    r"""Connectionist temporal classification: minus the log of the total probability of all alignments.

    .. math:: \ell_n = -\log \sum_{\pi \in \mathcal{B}^{-1}(y_n)} \prod_{t=1}^{T_n} p_t(\pi_t \mid x_n),

    where :math:`\mathcal{B}` collapses repeated labels, then removes blanks. The sum is computed by the
    forward recursion over the extended label sequence :math:`l' = (\varnothing, y_1, \varnothing, y_2, \dots,
    \varnothing)` of length :math:`2S+1`, in log space:
    :math:`\alpha_t(s) = \log p_t(l'_s) + \operatorname{LSE}(\alpha_{t-1}(s), \alpha_{t-1}(s-1),
    \alpha_{t-1}(s-2))`, the last term only when :math:`l'_s \ne \varnothing` and :math:`l'_s \ne l'_{s-2}`.

    Args:
        log_probs: ``(T, N, C)`` log-probabilities (``log_softmax`` over the class axis), time first; or
            ``(T, C)`` for one sequence. A batch-first ``(N, T, C)`` array is refused with the transpose to use.
        targets: padded ``(N, S)`` labels, or the 1-D concatenation of all targets
            (``sum(target_lengths)`` entries); for unbatched input ``(S,)``. Labels lie in ``[0, C-1]`` and are
            never ``blank`` (an error, where PyTorch silently computes a wrong loss).
        input_lengths, target_lengths: ``(N,)`` integers (arrays, lists or tuples; an int for unbatched input),
            ``input_lengths <= T``, ``target_lengths <= S``.
        blank: the blank class (default 0).
        reduction: ``'mean'`` (each loss divided by its target length, clamped at 1, then the batch mean),
            ``'sum'`` or ``'none'`` (``(N,)``, or a scalar for unbatched input).
        zero_infinity: replace infinite losses (input too short for its target and its repeats: a sequence
            needs :math:`T_n \ge S_n + r_n`, with :math:`r_n` the number of adjacent repeated labels) by 0, and
            their gradients by 0.

    **Gradient convention.** ``ctc_loss.grad`` returns the partial derivative with respect to ``log_probs``
    taken as free inputs: :math:`-\gamma_t(c)`, minus the posterior occupancy of class :math:`c` at time
    :math:`t` (the summed :math:`\alpha_t(s)\beta_t(s)` of the states labelled :math:`c`, divided by the
    total probability), times the reduction's scale. Finite differences agree with it. PyTorch's
    ``CtcLossBackward`` returns :math:`e^{\text{log\_probs}} - \gamma` instead, which is not the derivative
    of the function it computed, but gives the same gradient once back-propagated through ``log_softmax``
    (the added :math:`e^{\text{log\_probs}}` term is what the log-softmax Jacobian removes). Both vanish for
    :math:`t \ge T_n`; an infinite loss has NaN gradients for :math:`t < T_n` unless ``zero_infinity``.

    Example::

        >>> lp = np.log(np.full((3, 1, 2), 0.5))                      # T=3, N=1, C=2: every class 1/2
        >>> float(ctc_loss(lp, [[1]], [3], [1], reduction="sum"))     # 6 paths of 8 give "1"
        0.28768207245178085

    Reference: Graves et al. (2006); Graves, *Supervised sequence labelling with recurrent neural networks*
    (2012), ch. 7; ``torch.nn.functional.ctc_loss`` (``aten/src/ATen/native/LossCTC.cpp``).
    """
    lp, labels, il, tl, blank, batched = _ctc_prepare(
        log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)
    _, nll, *_ = _ctc_forward(lp, labels, il, tl, blank)
    if zero_infinity:
        nll = np.where(np.isinf(nll), np.zeros((), nll.dtype), nll)
    if reduction == "none":
        return nll if batched else nll[0]
    if reduction == "sum":
        return np.asarray(nll.sum(dtype=nll.dtype))
    return np.asarray((nll / np.maximum(tl, 1).astype(nll.dtype)).mean(dtype=nll.dtype))


@ctc_loss.defgrad
def _ctc_loss_grad(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
                   zero_infinity=False):
    """d loss / d log_probs, the log-probabilities taken as free inputs: minus the occupancy of each class."""
    lp, labels, il, tl, blank, batched = _ctc_prepare(
        log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)
    alpha, nll, ext, skip, lpe = _ctc_forward(lp, labels, il, tl, blank)
    T, N, C = lp.shape
    L = ext.shape[1]
    dt = lp.dtype
    neg = np.asarray(_NEG_INF, dtype=dt)
    n = np.arange(N)
    # beta_t(s): log-probability of finishing from state s at time t, including p_t(l'_s)
    start = np.full((N, L), _NEG_INF, dtype=dt)
    beta_next = np.full((N, L), _NEG_INF, dtype=dt)
    b1 = np.full((N, L), _NEG_INF, dtype=dt)
    b2 = np.full((N, L), _NEG_INF, dtype=dt)
    log_gamma = np.empty((T, N, L), dtype=dt)
    for t in range(T - 1, -1, -1):
        b1[:, :-1] = beta_next[:, 1:]
        b2[:, :-2] = np.where(skip[:, 2:], beta_next[:, 2:], neg)
        beta = _lse3(beta_next, b1, b2) + lpe[t]
        first = t == il - 1
        if first.any():
            start.fill(_NEG_INF)
            start[n, 2 * tl] = lpe[t, n, 2 * tl]
            start[n, np.maximum(2 * tl - 1, 0)] = np.where(tl > 0, lpe[t, n, np.maximum(2 * tl - 1, 0)],
                                                             start[n, 0])
            beta = np.where(first[:, None], start, beta)
        beta = np.where((t < il)[:, None], beta, neg)
        with np.errstate(invalid="ignore"):
            log_gamma[t] = alpha[t] + beta - lpe[t] + nll[:, None]
        beta_next = beta
    with np.errstate(invalid="ignore", over="ignore"):
        gamma = np.exp(log_gamma)
    active = np.arange(T)[:, None] < il[None, :]
    gamma = np.where(active[:, :, None], gamma, np.zeros((), dt))
    onehot = (ext[:, :, None] == np.arange(C)).astype(dt)               # (N, L, C)
    grad = -np.matmul(gamma.transpose(1, 0, 2), onehot).transpose(1, 0, 2)
    infinite = np.isinf(nll)
    if infinite.any():
        bad = active & infinite[None, :]
        grad[bad] = 0.0 if zero_infinity else np.nan
    grad *= _ctc_scale(reduction, tl, N, dt)[None, :, None]
    return grad if batched else grad[:, 0, :]


# ----------------------------------------------------------------------------------------------------------------
# token_cross_entropy
# ----------------------------------------------------------------------------------------------------------------


def _token_prepare(input, target, num_tokens, reduction):
    check_reduction(reduction)
    input = as_prediction(input, "input")
    target_a = np.asarray(target)
    if input.ndim < 2 or target_a.shape != input.shape[:-1]:
        hint = ""
        if input.ndim == 3 and target_a.shape == (input.shape[0], input.shape[2]):
            hint = " (a (B, V, T) array? token_cross_entropy wants the vocabulary LAST, as a model returns it)"
        raise ValueError(
            f"token_cross_entropy: `input` must be logits (..., V) with the vocabulary last, e.g. (B, T, V), and "
            f"`target` the same shape without V, e.g. (B, T); they have shapes {input.shape} and "
            f"{target_a.shape}{hint}. Shift first: logits[:, :-1] predict tokens[:, 1:].")
    if num_tokens is not None:
        if reduction != "sum":
            raise ValueError(f"`num_tokens` divides the summed loss, so it needs reduction='sum', but reduction "
                             f"is {reduction!r}.")
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, numbers.Real) or not num_tokens > 0:
            raise ValueError(f"`num_tokens` must be a positive number (the count of real tokens over the whole "
                             f"accumulated batch and every worker), but it is {num_tokens!r}.")
    V = input.shape[-1]
    flat = input.reshape(-1, V)
    return flat, target_a.reshape(-1)


@register(
    family="sequences",
    prediction="logits",
    target_dtype="int64 token ids",
    target_shape="input's shape without the last (vocabulary) axis: (B, T) for (B, T, V)",
    target_values="integers in [0, V-1], or ignore_index (padding)",
    torch_function="torch.nn.functional.cross_entropy(input.flatten(0, -2), target.flatten(), "
    "reduction='sum') / num_tokens",
    torch_module="torch.nn.CrossEntropyLoss(ignore_index=-100, reduction='sum')",
    reference="Hugging Face transformers, gradient accumulation fix (num_items_in_batch), October 2024",
)
def token_cross_entropy(input, target, ignore_index=-100, label_smoothing=0.0, reduction="sum",
                        num_tokens=None):
    r"""Cross-entropy over the tokens of a batch of sequences, vocabulary last, padding ignored.

    .. math:: L = \frac{1}{D} \sum_{b,t:\ y_{bt} \ne \text{ignore}} -\log \operatorname{softmax}(z_{bt})_{y_{bt}}

    with :math:`D` = ``num_tokens`` when given (``reduction='sum'`` only), 1 for ``'sum'``, and the number of
    real tokens of *this* call for ``'mean'``. Under gradient accumulation over micro-batches (and across
    data-parallel workers), ``'mean'`` averages micro-batch means, which weights the tokens of a short
    micro-batch more; summing and dividing every micro-batch by the global count of real tokens,
    ``num_tokens``, gives exactly the loss and gradient of the whole batch.

    Args:
        input: logits ``(..., V)`` with the vocabulary last, e.g. ``(B, T, V)`` (a model's output layout; no
            permute needed). Shift before calling: ``logits[:, :-1]`` predict ``tokens[:, 1:]``.
        target: int token ids, ``input.shape[:-1]``, in ``[0, V-1]`` or ``ignore_index`` (padding).
        ignore_index, label_smoothing: as in ``cross_entropy`` (smoothing only over real tokens).
        reduction: ``'sum'`` (default), ``'mean'`` (over this call's real tokens; NaN if there are none, as
            PyTorch) or ``'none'`` (shaped like ``target``, 0 at padding).
        num_tokens: optional global count of real tokens; the summed loss is divided by it.

    Equals ``F.cross_entropy(input.flatten(0, -2), target.flatten(), ignore_index=..., reduction=...)``
    (divided by ``num_tokens``). The count of real tokens is ``(target != ignore_index).sum()``.

    Example::

        >>> z = np.zeros((1, 2, 4)); y = np.array([[3, -100]])           # one real token, one padding
        >>> round(float(token_cross_entropy(z, y, num_tokens=2)), 6)     # log(4) / 2
        0.693147

    Reference: ``torch.nn.functional.cross_entropy``; Hugging Face, "Fixing gradient accumulation" (2024), the
    ``num_items_in_batch`` of ``transformers``' loss functions.
    """
    flat, tflat = _token_prepare(input, target, num_tokens, reduction)
    out = cross_entropy(flat, tflat, ignore_index=ignore_index, label_smoothing=label_smoothing,
                        reduction=reduction)
    if reduction == "none":
        return out.reshape(np.shape(target))
    if num_tokens is not None:
        out = np.asarray(out / np.asarray(num_tokens, dtype=out.dtype), dtype=out.dtype)
    return out


@token_cross_entropy.defgrad
def _token_cross_entropy_grad(input, target, ignore_index=-100, label_smoothing=0.0, reduction="sum",
                              num_tokens=None):
    flat, tflat = _token_prepare(input, target, num_tokens, reduction)
    g = cross_entropy.grad(flat, tflat, ignore_index=ignore_index, label_smoothing=label_smoothing,
                           reduction=reduction)
    if num_tokens is not None:
        g = g / np.asarray(num_tokens, dtype=g.dtype)
    return g.reshape(np.shape(input))


@token_cross_entropy.defvalue_and_grad
def _token_cross_entropy_value_and_grad(input, target, ignore_index=-100, label_smoothing=0.0, reduction="sum",
                                        num_tokens=None):
    """The value and the gradient at once, through cross_entropy's (one log_softmax for both)."""
    flat, tflat = _token_prepare(input, target, num_tokens, reduction)
    out, g = cross_entropy.value_and_grad(flat, tflat, ignore_index=ignore_index, label_smoothing=label_smoothing,
                                          reduction=reduction)
    if num_tokens is not None:
        out = np.asarray(out / np.asarray(num_tokens, dtype=out.dtype), dtype=out.dtype)
        g = g / np.asarray(num_tokens, dtype=g.dtype)
    return (out.reshape(np.shape(target)) if reduction == "none" else out), g.reshape(np.shape(input))
