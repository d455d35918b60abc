"""Sphinx extension of the PDF edition (``make pdf``): print has no dropdowns, so what the site folds is printed.

On the website, a solution's code (cells tagged ``hide-input``) and the production source that a chapter shows
after its from-scratch listing (cells tagged ``hide-output``) are collapsed toggles. sphinx-jupyterbook-latex
drops both from LaTeX altogether (its ``MystNbPostTransform``, priority 400), so a printed solution would lose
its code and the PDF would promise a listing it does not contain. For the LaTeX builder only, this post-transform
runs first and removes the two tags' classes: the PDF prints each solution in full right after its exercise
(the collapsed explanation, then the code and its checked answer), and the full implementation after the
from-scratch one. Cells tagged ``remove-cell``/``remove-input``/``remove-output`` (instructor notes, generators)
stay removed.

For the website, when ``make pdf`` has built ``_build/pdf/lossbook.pdf``, the HTML build copies it to the site's
root, where every page's footer links to it ("Download the book as PDF"); the Pages workflow does the same.
"""
import pathlib
import shutil

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

FOLDED = ("tag_hide-input", "tag_hide-output", "tag_hide-cell")


class PrintFoldedCells(SphinxPostTransform):
    default_priority = 300  # before sphinx-jupyterbook-latex's MystNbPostTransform (400)
    builders = ("latex",)

    def run(self, **kwargs):
        for node in self.document.findall(nodes.container):
            if any(c in FOLDED for c in node.get("classes", [])):
                node["classes"] = [c for c in node["classes"] if c not in FOLDED]


def copy_pdf_into_site(app, exception):
    pdf = pathlib.Path(app.srcdir) / "_build" / "pdf" / "lossbook.pdf"
    if exception is None and app.builder.format == "html" and pdf.exists():
        shutil.copyfile(pdf, pathlib.Path(app.outdir) / "lossbook.pdf")


def setup(app):
    app.add_post_transform(PrintFoldedCells)
    app.connect("build-finished", copy_pdf_into_site)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
