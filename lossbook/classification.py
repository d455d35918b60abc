"""Classification losses (cross-entropy family, binary losses, margin losses, focal and Dice)."""
from __future__ import annotations

__all__: list[str] = []
