"""Ranking and metric-learning losses (margin ranking, hinge embedding, cosine, triplet, contrastive, InfoNCE)."""
from __future__ import annotations

__all__: list[str] = []
