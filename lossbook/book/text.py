"""The character-level language model of the chapter "Cross-entropy over tokens": its corpus and a tiny model.

**The corpus** is the text of scikit-learn's dataset descriptions (``sklearn/datasets/descr/*.rst``, 14 files,
about 43,000 characters of English prose, tables and references). It ships inside the scikit-learn package that
``requirements.txt`` pins (``scikit-learn==1.9.1``), so every installation of the book holds the same bytes, and
it may be redistributed and used under scikit-learn's BSD-3-Clause licence. :func:`load_corpus` reads the files
in sorted order, without importing scikit-learn, and checks their SHA-256 (``CORPUS_SHA256``), so a
different version is reported instead of silently changing the chapter's numbers. Three whole documents are held
out (``HELD_OUT``): the model is judged on text it never saw, not on a random slice of the same sentences.

**The model** (:func:`train_char_lm`) is the neural language model of Bengio et al. (2003) at laptop scale: the
previous ``context`` characters are embedded, concatenated, passed through one tanh layer, and mapped to logits
over the alphabet. It trains in about a second on one CPU thread.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass

import numpy as np

__all__ = ["CORPUS_SHA256", "HELD_OUT", "Corpus", "load_corpus", "windows", "train_char_lm", "evaluate",
           "ngram_cross_entropy"]

CORPUS_SHA256 = "efcc63d1a838d2134e9078ff3e2d7c6b66098f891425d381cef4879fe3ca390f"  # scikit-learn 1.9.1
HELD_OUT = ("diabetes.rst", "linnerud.rst", "wine_data.rst")


@dataclass
class Corpus:
    """The text split by document, and its alphabet. ``train`` and ``test`` are int64 arrays of character ids."""

    files: list
    alphabet: str
    train: np.ndarray
    test: np.ndarray
    train_text: str
    test_text: str
    sha256: str

    def encode(self, text: str) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.alphabet)}
        return np.array([index[c] for c in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join(self.alphabet[int(i)] for i in ids)


def _descr_dir():
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise ImportError("load_corpus needs scikit-learn's dataset descriptions: pip install 'lossbook[data]'")
    return os.path.join(os.path.dirname(spec.origin), "datasets", "descr")


def load_corpus(check: bool = True) -> Corpus:
    """scikit-learn's dataset descriptions, split into training documents and the ``HELD_OUT`` ones.

    The alphabet is every character of the training documents; a held-out character outside it (rare) is
    mapped to the space. With ``check=True`` the SHA-256 of the concatenated files must be
    ``CORPUS_SHA256``, else ``RuntimeError`` (another scikit-learn version: the chapter's numbers would change).
    """
    folder = _descr_dir()
    files = sorted(f for f in os.listdir(folder) if f.endswith(".rst"))
    texts = {}
    digest = hashlib.sha256()
    for f in files:
        with open(os.path.join(folder, f), "rb") as fh:
            raw = fh.read()
        digest.update(raw)
        texts[f] = raw.decode("utf-8")
    sha = digest.hexdigest()
    if check and sha != CORPUS_SHA256:
        raise RuntimeError(f"scikit-learn's dataset descriptions have SHA-256 {sha}, not the {CORPUS_SHA256} of "
                           "scikit-learn 1.9.1 that the book pins: install the versions of requirements.txt, or "
                           "call load_corpus(check=False) and expect other numbers.")
    train_text = "\n".join(texts[f] for f in files if f not in HELD_OUT)
    test_text = "\n".join(texts[f] for f in files if f in HELD_OUT)
    alphabet = "".join(sorted(set(train_text)))
    test_text = "".join(c if c in alphabet else " " for c in test_text)
    corpus = Corpus(files, alphabet, np.empty(0, np.int64), np.empty(0, np.int64), train_text, test_text, sha)
    corpus.train = corpus.encode(train_text)
    corpus.test = corpus.encode(test_text)
    return corpus


def windows(ids, context: int):
    """All ``(N, context)`` windows of ``ids`` and the character that follows each: ``(X, y)``. The first
    ``context`` characters are predicted from a left padding of id 0 (the alphabet's first character)."""
    ids = np.asarray(ids, dtype=np.int64)
    padded = np.concatenate([np.zeros(context, np.int64), ids])
    X = np.lib.stride_tricks.sliding_window_view(padded, context)[:-1]
    return np.ascontiguousarray(X), ids.copy()


def _model(vocab, context, embed, hidden):
    import torch.nn as nn

    return nn.Sequential(nn.Embedding(vocab, embed), nn.Flatten(), nn.Linear(context * embed, hidden), nn.Tanh(),
                         nn.Linear(hidden, vocab))


def train_char_lm(train_ids, vocab: int, *, context=12, embed=12, hidden=128, steps=1000, batch=128, lr=3e-3,
                  seed=0, log_every=25):
    """Train the tiny MLP language model with Adam on random windows of ``train_ids``.

    The loss is ``nn.CrossEntropyLoss()``, the mean over the batch's tokens (every window has one next
    character, so no padding). Returns ``(model, curve)``: ``curve`` holds the training loss (nats per
    character) every ``log_every`` steps, averaged over those steps."""
    import torch
    import torch.nn as nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    X, y = windows(train_ids, context)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    model = _model(vocab, context, embed, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    curve, running = [], 0.0
    for step in range(1, steps + 1):
        idx = torch.from_numpy(rng.integers(0, len(y), batch))
        loss = loss_fn(model(Xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += loss.item()
        if step % log_every == 0:
            curve.append(running / log_every)
            running = 0.0
    return model, np.array(curve)


def evaluate(model, ids, context=12):
    """Mean cross-entropy (nats per character) of ``model`` on every character of ``ids``."""
    import torch
    import torch.nn.functional as F

    X, y = windows(ids, context)
    with torch.no_grad():
        return float(F.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y)))


def ngram_cross_entropy(train_ids, test_ids, vocab: int, order: int = 1, alpha: float = 0.5) -> float:
    """Held-out cross-entropy (nats per character) of a count-based model with add-``alpha`` smoothing:
    ``order=0`` is the unigram model (character frequencies), ``order=1`` the bigram model."""
    train_ids, test_ids = np.asarray(train_ids), np.asarray(test_ids)
    if order == 0:
        counts = np.bincount(train_ids, minlength=vocab) + alpha
        return float(-np.log(counts[test_ids] / counts.sum()).mean())
    if order != 1:
        raise ValueError(f"`order` must be 0 or 1, but it is {order!r}.")
    counts = np.full((vocab, vocab), alpha)
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1.0)
    probs = counts / counts.sum(axis=1, keepdims=True)
    prev = np.concatenate([[0], test_ids[:-1]])
    return float(-np.log(probs[prev, test_ids]).mean())
