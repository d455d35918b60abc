// lossbook site: behaviour that keeps the book working offline (opened from file://).
// Sphinx's search shows a summary of each hit by fetching the page; browsers refuse fetch() on file://,
// which throws "Failed to fetch" for every hit. Offline, list the hits without summaries.
if (window.location.protocol === "file:" && typeof DOCUMENTATION_OPTIONS !== "undefined") {
  DOCUMENTATION_OPTIONS.SHOW_SEARCH_SUMMARY = false;
}

// The PDF edition sits at the site's root (the Pages workflow puts _build/pdf/lossbook.pdf there): resolve the
// footer's "Download the book as PDF" link against the page's content root, whatever the page's depth.
document.addEventListener("DOMContentLoaded", () => {
  const root = document.documentElement.dataset.content_root || "";
  for (const a of document.querySelectorAll("a[data-lossbook-pdf]")) {
    a.setAttribute("href", root + a.dataset.lossbookPdf);
  }
});
