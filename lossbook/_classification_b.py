"""Binary, margin, focal and Dice classification losses (merged into classification.py when complete)."""
from __future__ import annotations

__all__: list[str] = []
