"""Sphinx extension of the lossbook site: offline by default.

Jupyter Book adds every ``.js`` file found under ``_static`` to every page, and always loads sphinx-thebe,
whose inline script declares ``THEBE_JS_URL`` (a remote script) on every page. This extension

- keeps the vendored MathJax (``_static/mathjax/``) out of the automatic script list: only its entry point,
  set by ``mathjax_path`` in ``_config.yml``, is loaded, and it fetches the rest from ``_static/mathjax``
  itself when a page needs it;
- removes sphinx-thebe's scripts, style and per-page configuration (the book does not use live code cells:
  its launch buttons open the notebook in Colab or Binder instead).
"""
from docutils import nodes

_THEBE_MARKERS = ("THEBE_JS_URL", "x-thebe-config", "kernelName =")


def _drop_vendored_scripts(app, config):
    config.html_js_files = [
        f for f in config.html_js_files
        if not str(f[0] if isinstance(f, tuple) else f).startswith("mathjax/")
    ]


def _drop_thebe_listeners(app, config):
    # sphinx-thebe registers its page scripts on env-before-read-docs and its page configuration on
    # doctree-resolved; unhook both so nothing of it reaches the pages.
    for event in ("env-before-read-docs", "doctree-resolved"):
        for listener in list(app.events.listeners.get(event, [])):
            if getattr(listener.handler, "__module__", "").startswith("sphinx_thebe"):
                app.disconnect(listener.id)


def _drop_thebe_raw(app, doctree, docname):
    for node in list(doctree.findall(nodes.raw)):
        if any(m in node.astext() for m in _THEBE_MARKERS):
            node.parent.remove(node)


def _filter_page_assets(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if scripts is not None:
        context["script_files"] = [
            s for s in scripts
            if "thebe" not in str(getattr(s, "filename", s) or "")
            and not any(m in str(getattr(s, "attributes", {}).get("body", "")) for m in _THEBE_MARKERS)
        ]
    css = context.get("css_files")
    if css is not None:
        context["css_files"] = [c for c in css if "thebe" not in str(getattr(c, "filename", c) or "")]


def setup(app):
    app.connect("config-inited", _drop_vendored_scripts, priority=900)
    app.connect("config-inited", _drop_thebe_listeners, priority=900)
    app.connect("doctree-resolved", _drop_thebe_raw, priority=900)
    app.connect("html-page-context", _filter_page_assets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
