"""Part VI's small models: a tabular autoregressive policy over a short alphabet, programmatic rewards, preference
data drawn from a known reward with Bradley–Terry noise, and the training loops of the chapters. NumPy only.

The policy, :class:`BigramPolicy`, is the smallest model that is still a language model: the distribution of the
next token depends on the previous one (a table of logits, one row per previous token, the first row for the start
of the sequence), a special end token stops the sequence, and sequences are cut at ``max_len`` letters. It has
everything the losses of Part VI need (per-token log-probabilities, a mask, sampling, variable lengths) and the
quantities the chapters measure can be computed *exactly* by dynamic programming over the positions: the KL to a
reference policy, the expected length. Its gradients are written out (``grad_logits``), so a training step costs
well under a millisecond.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._stable import log_softmax

__all__ = [
    "ALPHABET",
    "EOS",
    "BigramPolicy",
    "reference_policy",
    "decode",
    "vowel_share",
    "count_letter",
    "Adam",
    "preference_pairs",
    "bt_labels",
    "noise_ceiling",
    "Samples",
]

ALPHABET = "abcde"
EOS = len(ALPHABET)          # token id of the end token, shown as "."
_VOCAB = len(ALPHABET) + 1
_BOS = len(ALPHABET) + 1     # the state at the start of a sequence (a row of the table, never emitted)


@dataclass
class Samples:
    """Sampled completions: ``tokens`` (N, T) ints (-1 on padding), ``mask`` (N, T) bool, ``lengths`` (N,) letters."""

    tokens: np.ndarray
    mask: np.ndarray
    lengths: np.ndarray

    def __len__(self):
        return self.tokens.shape[0]

    def take(self, idx):
        return Samples(self.tokens[idx], self.mask[idx], self.lengths[idx])


class BigramPolicy:
    """A next-token table: ``logits[s, v]`` is the logit of token v after state s (a letter, or the start)."""

    def __init__(self, logits, max_len: int = 12):
        self.logits = np.array(logits, dtype=np.float64)
        if self.logits.shape != (_VOCAB + 1, _VOCAB):
            raise ValueError(f"logits must have shape {(_VOCAB + 1, _VOCAB)}, got {self.logits.shape}")
        self.max_len = int(max_len)

    def copy(self) -> BigramPolicy:
        return BigramPolicy(self.logits.copy(), self.max_len)

    def log_table(self) -> np.ndarray:
        """log π(v given s) for every state s and token v, shape (S, V)."""
        return log_softmax(self.logits, axis=1)

    # ---- sampling and scoring ------------------------------------------------------------------------------

    def sample(self, n: int, rng: np.random.Generator) -> Samples:
        """``n`` completions: letters until the end token (included, a token) or ``max_len`` letters (cut, no end)."""
        p = np.exp(self.log_table())
        cdf = np.cumsum(p, axis=1)
        T = self.max_len + 1
        tokens = np.full((n, T), -1, dtype=np.int64)
        state = np.full(n, _BOS)
        alive = np.ones(n, bool)
        for t in range(T):
            if t == self.max_len:
                break
            u = rng.random(n)
            tok = np.minimum((u[:, None] > cdf[state]).sum(axis=1), _VOCAB - 1)
            tokens[alive, t] = tok[alive]
            state = np.where(alive, tok, state)
            alive = alive & (tok != EOS)
            if not alive.any():
                break
        mask = tokens >= 0
        lengths = (mask & (tokens != EOS)).sum(axis=1)
        return Samples(tokens, mask, lengths)

    @staticmethod
    def states(samples: Samples) -> np.ndarray:
        """The state before each token: the start for t = 0, else the previous token."""
        s = np.empty_like(samples.tokens)
        s[:, 0] = _BOS
        s[:, 1:] = np.where(samples.tokens[:, :-1] >= 0, samples.tokens[:, :-1], _BOS)
        return s

    def token_logps(self, samples: Samples) -> np.ndarray:
        """(N, T) per-token log-probabilities, 0 on padding."""
        lt = self.log_table()
        s = self.states(samples)
        tok = np.where(samples.mask, samples.tokens, 0)
        return np.where(samples.mask, lt[s, tok], 0.0)

    def logps(self, samples: Samples, average: bool = False) -> np.ndarray:
        """(N,) summed (or per-token averaged) log-probabilities of the completions."""
        lp = self.token_logps(samples).sum(axis=1)
        if average:
            lp = lp / np.maximum(samples.mask.sum(axis=1), 1)
        return lp

    def grad_logits(self, samples: Samples, token_weights: np.ndarray) -> np.ndarray:
        """d/d logits of sum_{n,t} w_nt log π(x_nt given s_nt): onehot(x) - π(· given s), accumulated per state."""
        w = np.where(samples.mask, token_weights, 0.0)
        s = self.states(samples)
        tok = np.where(samples.mask, samples.tokens, 0)
        S, V = self.logits.shape
        g = np.bincount((s * V + tok).ravel(), w.ravel(), minlength=S * V).reshape(S, V)
        per_state = np.bincount(s.ravel(), w.ravel(), minlength=S)
        return g - per_state[:, None] * np.exp(self.log_table())

    # ---- exact quantities ----------------------------------------------------------------------------------

    def _occupancy(self):
        """d[t, s]: probability that the sequence is still running at step t and its state is s (t = 0..max_len-1)."""
        p = np.exp(self.log_table())
        d = np.zeros((self.max_len, p.shape[0]))
        d[0, _BOS] = 1.0
        for t in range(1, self.max_len):
            d[t, :_VOCAB - 1] = d[t - 1] @ p[:, :_VOCAB - 1]
        return d

    def kl_to(self, reference: BigramPolicy) -> float:
        """Exact KL(π ‖ π_ref) over whole sequences (the sum over steps of the expected next-token KL)."""
        lt, lr = self.log_table(), reference.log_table()
        step_kl = np.sum(np.exp(lt) * (lt - lr), axis=1)
        return float((self._occupancy() @ step_kl).sum())

    def expected_length(self) -> float:
        """Exact expected number of letters."""
        d = self._occupancy()
        return float(d[1:].sum() + (d[-1] @ np.exp(self.log_table())[:, :_VOCAB - 1]).sum())


def reference_policy(seed: int = 0, max_len: int = 12, mean_length: float = 5.0) -> BigramPolicy:
    """A seeded reference policy: random letter logits, and an end-token logit set so that about ``mean_length``
    letters are emitted on average (a geometric length distribution, cut at ``max_len``)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 0.6, (_VOCAB + 1, _VOCAB))
    letters = np.log(np.exp(logits[:, :EOS]).sum(axis=1))
    p_end = 1.0 / (mean_length + 1.0)
    logits[:, EOS] = letters + np.log(p_end / (1 - p_end))
    logits[_BOS, EOS] = -30.0    # no empty sequences
    return BigramPolicy(logits, max_len)


def decode(samples: Samples, i: int) -> str:
    """The i-th completion as text, the end token shown as "."."""
    chars = ALPHABET + "."
    return "".join(chars[t] for t in samples.tokens[i] if t >= 0)


def count_letter(samples: Samples, letter: str) -> np.ndarray:
    return ((samples.tokens == ALPHABET.index(letter)) & samples.mask).sum(axis=1)


def vowel_share(samples: Samples) -> np.ndarray:
    """The programmatic reward of Part VI: the share of the letters that are vowels ("a" or "e"), in [0, 1].

    It ignores the length of the answer, so any change of length a loss causes is the loss's doing."""
    n = np.maximum(samples.lengths, 1)
    return (count_letter(samples, "a") + count_letter(samples, "e")) / n


class Adam:
    """Adam for one array (Kingma & Ba, 2015), minimising."""

    def __init__(self, shape, lr=0.05, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.b1, self.b2, self.eps = lr, betas[0], betas[1], eps
        self.m, self.v, self.t = np.zeros(shape), np.zeros(shape), 0

    def step(self, param, grad):
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * grad
        self.v = self.b2 * self.v + (1 - self.b2) * grad * grad
        m = self.m / (1 - self.b1**self.t)
        v = self.v / (1 - self.b2**self.t)
        param -= self.lr * m / (np.sqrt(v) + self.eps)
        return param


# ---- preferences drawn from a known reward --------------------------------------------------------------


def bt_labels(reward_a, reward_b, rng: np.random.Generator) -> np.ndarray:
    """True where a is preferred: drawn with probability σ(r_a - r_b), the Bradley–Terry model of the annotator."""
    p = 1.0 / (1.0 + np.exp(-(np.asarray(reward_a) - np.asarray(reward_b))))
    return rng.random(p.shape) < p


def preference_pairs(n_items: int, n_pairs: int, rng: np.random.Generator):
    """``n_pairs`` random pairs (i, j) of distinct items out of ``n_items``."""
    i = rng.integers(0, n_items, n_pairs)
    j = (i + rng.integers(1, n_items, n_pairs)) % n_items
    return i, j


def noise_ceiling(reward_a, reward_b) -> float:
    """The best preference accuracy any model can reach on labels drawn by :func:`bt_labels`: the mean of
    max(σ(Δ), 1 - σ(Δ)), reached by predicting the pair's true order."""
    d = np.abs(np.asarray(reward_a) - np.asarray(reward_b))
    return float(np.mean(1.0 / (1.0 + np.exp(-d))))
