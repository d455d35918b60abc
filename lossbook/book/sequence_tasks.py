"""The experiment of the chapter "Connectionist temporal classification": reading strips of handwritten digits.

:func:`digit_strips` places 3 to 6 of scikit-learn's 8x8 digits side by side with random gaps (seeded), so a strip
is an 8-row image whose columns are the time axis. :func:`train_strip_reader` trains a small 1-D convolutional
network on such strips, either with ``nn.CTCLoss`` (only the digit string is known) or with
``nn.CrossEntropyLoss(ignore_index=-100)`` on every frame (the segmentation is known: each digit's centre frame is
labelled with the digit, every other frame with the blank). Both are read out with the same greedy decoding,
:func:`ctc_greedy_decode`, so the two methods differ only in their loss. :func:`error_rates` gives the character
error rate (edit distance over the number of true digits) and the string error rate.

The images of the training and test strips come from disjoint halves of the digits (:func:`digit_pools`), so the
test strips are new handwriting, not new arrangements of digits seen in training.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Strips", "digit_pools", "digit_strips", "frames_of", "StripReader", "train_strip_reader", "read",
           "ctc_greedy_decode", "ctc_prefix_beam_search", "edit_distance", "error_rates"]

BLANK = 0          # class 0 is the blank; digit d is class d + 1
STRIDE, KERNEL = 2, 4


@dataclass
class Strips:
    """``images`` (n, 8, W) in [0, 1], zero beyond each strip's ``widths``; ``digits`` (n, max_len) padded with
    -1, ``lengths`` (n,); ``starts`` (n, max_len) the first column of each digit (-1 for padding)."""

    images: np.ndarray
    widths: np.ndarray
    digits: np.ndarray
    lengths: np.ndarray
    starts: np.ndarray

    def __len__(self):
        return len(self.widths)

    def strings(self):
        return [list(d[:n]) for d, n in zip(self.digits, self.lengths, strict=True)]


def digit_pools(seed=0):
    """The 1,797 digits (8x8, values 0..16) split once into a training pool (1,200) and a test pool (597)."""
    from .data import _bundled_classification

    X, y, _ = _bundled_classification("digits")
    order = np.random.default_rng(seed).permutation(len(y))
    images = (X / 16.0).reshape(-1, 8, 8)
    train, test = order[:1200], order[1200:]
    return (images[train], y[train]), (images[test], y[test])


def digit_strips(pool, n, *, min_len=3, max_len=6, max_gap=3, seed=0) -> Strips:
    """``n`` strips of ``min_len`` to ``max_len`` digits drawn from ``pool = (images, labels)``, each followed by a
    gap of 0 to ``max_gap`` empty columns (and one to three before the first)."""
    images, labels = pool
    rng = np.random.default_rng(seed)
    width = 3 + max_len * (8 + max_gap)
    out = np.zeros((n, 8, width))
    digits = np.full((n, max_len), -1, np.int64)
    starts = np.full((n, max_len), -1, np.int64)
    lengths = rng.integers(min_len, max_len + 1, n)
    widths = np.zeros(n, np.int64)
    for i in range(n):
        x = int(rng.integers(1, 4))
        for k in range(lengths[i]):
            j = int(rng.integers(len(labels)))
            out[i, :, x:x + 8] = images[j]
            digits[i, k], starts[i, k] = labels[j], x
            x += 8 + int(rng.integers(0, max_gap + 1))
        widths[i] = x
    return Strips(out.astype(np.float32), widths, digits, lengths, starts)


def frames_of(width):
    """Output frames of the network for an input of ``width`` columns (one frame per two columns)."""
    return (np.asarray(width) - KERNEL) // STRIDE + 1


def _network(hidden=48):
    import torch.nn as nn

    return nn.Sequential(nn.Conv1d(8, hidden, KERNEL, stride=STRIDE), nn.ReLU(),
                         nn.Conv1d(hidden, hidden, 3, padding=1), nn.ReLU(),
                         nn.Conv1d(hidden, 11, 1))


@dataclass
class StripReader:
    """A trained network and the loss it was trained with; ``curve`` is its training loss."""

    net: object
    method: str
    curve: np.ndarray


def _frame_targets(strips: Strips, idx):
    """Per-frame class targets when the segmentation is known: digit + 1 at each digit's centre frame, blank
    elsewhere, -100 (ignored) beyond the strip."""
    T = int(frames_of(strips.images.shape[2]))
    y = np.zeros((len(idx), T), np.int64)
    y[np.arange(T)[None, :] >= frames_of(strips.widths[idx])[:, None]] = -100
    for r, i in enumerate(idx):
        for k in range(strips.lengths[i]):
            y[r, (strips.starts[i, k] + 2) // STRIDE] = strips.digits[i, k] + 1
    return y


def train_strip_reader(strips: Strips, method="ctc", *, steps=400, batch=32, lr=1e-2, seed=0, hidden=48):
    """Train the convolutional reader on ``strips`` for ``steps`` Adam steps of ``batch`` strips.

    ``method='ctc'``: ``nn.CTCLoss(blank=0)`` on the digit strings (``'mean'``: each strip's loss divided by its
    number of digits). ``method='framewise'``: ``nn.CrossEntropyLoss(ignore_index=-100)`` on the frame targets
    of the known segmentation. Same network, data, optimiser and budget for both."""
    import torch
    import torch.nn as nn

    if method not in ("ctc", "framewise"):
        raise ValueError(f"`method` must be 'ctc' or 'framewise', but it is {method!r}.")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = _network(hidden)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    ctc = nn.CTCLoss(blank=BLANK, zero_infinity=False)
    ce = nn.CrossEntropyLoss(ignore_index=-100)
    X = torch.from_numpy(strips.images)
    curve = []
    for _ in range(steps):
        idx = rng.integers(0, len(strips), batch)
        logits = net(X[idx])                                   # (B, 11, T): class axis second
        if method == "ctc":
            log_probs = logits.permute(2, 0, 1).log_softmax(2)  # (T, B, 11): time first, as CTCLoss wants
            targets = torch.from_numpy(strips.digits[idx] + 1).clamp(min=0)
            loss = ctc(log_probs, targets, torch.from_numpy(frames_of(strips.widths[idx])),
                       torch.from_numpy(strips.lengths[idx]))
        else:
            loss = ce(logits, torch.from_numpy(_frame_targets(strips, idx)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
    return StripReader(net, method, np.array(curve))


def log_probs_of(reader: StripReader, strips: Strips):
    """``(n, T, 11)`` log-probabilities of the reader on every strip (padding frames included)."""
    import torch

    with torch.no_grad():
        return reader.net(torch.from_numpy(strips.images)).permute(0, 2, 1).log_softmax(2).numpy()


def read(reader: StripReader, strips: Strips):
    """The digit strings the reader reads from ``strips`` by greedy decoding (lists of ints)."""
    lp = log_probs_of(reader, strips)
    frames = frames_of(strips.widths)
    return [[c - 1 for c in ctc_greedy_decode(lp[i, :frames[i]])] for i in range(len(strips))]


def ctc_greedy_decode(log_probs, blank=BLANK):
    """Best path decoding: the most probable class at each frame, repeats collapsed, blanks removed."""
    best = np.asarray(log_probs).argmax(axis=-1)
    keep = np.concatenate([[True], best[1:] != best[:-1]]) & (best != blank)
    return [int(c) for c in best[keep]]


def ctc_prefix_beam_search(log_probs, beam=8, blank=BLANK):
    """Prefix beam search (Hannun et al. 2014, without a language model): keeps the ``beam`` most probable
    *labellings* (prefixes), each with the log-probability of its alignments ending in a blank and in a
    non-blank, so that the probability of a labelling sums over its paths. Returns ``(labels, log_prob)``."""
    lp = np.asarray(log_probs, dtype=np.float64)
    beams = {(): (0.0, -np.inf)}                 # prefix -> (log P ending in blank, log P ending in non-blank)
    def add(nxt, prefix, pb, pnb):
        ob, onb = nxt.get(prefix, (-np.inf, -np.inf))
        nxt[prefix] = (np.logaddexp(ob, pb), np.logaddexp(onb, pnb))

    for t in range(lp.shape[0]):
        nxt = {}
        for prefix, (pb, pnb) in beams.items():
            total = np.logaddexp(pb, pnb)
            add(nxt, prefix, total + lp[t, blank], -np.inf)                    # a blank: the prefix stays
            for c in range(lp.shape[1]):
                if c == blank:
                    continue
                if prefix and prefix[-1] == c:
                    add(nxt, prefix, -np.inf, pnb + lp[t, c])                   # a repeat, collapsed
                    add(nxt, prefix + (c,), -np.inf, pb + lp[t, c])             # a new c, after a blank
                else:
                    add(nxt, prefix + (c,), -np.inf, total + lp[t, c])
        beams = dict(sorted(nxt.items(), key=lambda kv: -np.logaddexp(*kv[1]))[:beam])
    best, (pb, pnb) = max(beams.items(), key=lambda kv: np.logaddexp(*kv[1]))
    return [int(c) for c in best], float(np.logaddexp(pb, pnb))


def edit_distance(a, b) -> int:
    """Levenshtein distance between two sequences (insertions, deletions, substitutions)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def error_rates(predicted, truth):
    """``(character error rate, string error rate)``: total edit distance over the number of true digits, and
    the fraction of strips read with any error."""
    dist = [edit_distance(p, t) for p, t in zip(predicted, truth, strict=True)]
    return sum(dist) / sum(len(t) for t in truth), float(np.mean([d > 0 for d in dist]))
