"""Tables generated from the losses' metadata, for the book's appendices (and for anyone's own notes).

:func:`catalogue_markdown` renders :func:`lossbook.catalogue` as a Markdown table, so the book's
target-format cheat sheet is produced by the code that enforces those formats.
"""
from __future__ import annotations

from ._registry import FAMILIES, catalogue

__all__ = ["catalogue_rows", "catalogue_markdown"]

COLUMNS = {
    "name": "lossbook",
    "prediction": "prediction",
    "target_dtype": "target dtype",
    "target_shape": "target shape",
    "target_values": "target values",
    "torch": "PyTorch",
}


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def catalogue_rows(family: str | None = None) -> list[dict]:
    """One dict per loss: the columns of :data:`COLUMNS`, as plain strings."""
    rows = []
    for info in catalogue(family):
        torch = " / ".join(x for x in (info.torch_function, info.torch_module) if x) or "(none: beyond PyTorch)"
        rows.append(
            {
                "name": info.name,
                "prediction": info.prediction,
                "target_dtype": info.target_dtype,
                "target_shape": info.target_shape,
                "target_values": info.target_values,
                "torch": torch,
            }
        )
    return rows


def catalogue_markdown(family: str | None = None) -> str:
    """A Markdown table of every loss (of one family, or all, grouped by family)."""
    families = [family] if family else list(FAMILIES)
    parts = []
    for fam in families:
        rows = catalogue_rows(fam)
        if not rows:
            continue
        header = "| " + " | ".join(COLUMNS.values()) + " |"
        rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
        body = []
        for r in rows:
            cells = [f"`{r['name']}`"] + [_escape(r[k]) for k in list(COLUMNS)[1:-1]]
            torch = r["torch"]
            if "none" not in torch:
                torch = " / ".join(f"`{t.strip()}`" for t in torch.split(" / "))
            cells.append(torch)
            body.append("| " + " | ".join(cells) + " |")
        title = "" if family else f"**{fam.capitalize()}**\n\n"
        parts.append(title + "\n".join([header, rule, *body]))
    return "\n\n".join(parts)
