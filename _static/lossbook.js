// lossbook site: behaviour that keeps the book working offline (opened from file://).
// Sphinx's search shows a summary of each hit by fetching the page; browsers refuse fetch() on file://,
// which throws "Failed to fetch" for every hit. Offline, list the hits without summaries.
if (window.location.protocol === "file:" && typeof DOCUMENTATION_OPTIONS !== "undefined") {
  DOCUMENTATION_OPTIONS.SHOW_SEARCH_SUMMARY = false;
}
