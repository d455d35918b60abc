#!/usr/bin/env bash
# Re-vendor MathJax into _static/mathjax from the npm registry (the book's site then works offline).
# Usage: tools/vendor_mathjax.sh [VERSION]   (default 3.2.2; needs npm and tar)
set -euo pipefail
VERSION="${1:-3.2.2}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/_static/mathjax"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "mathjax@$VERSION" >/dev/null && tar xzf "mathjax-$VERSION.tgz")
SRC="$TMP/package"
find "$DEST" -mindepth 1 -not -name README.md -delete 2>/dev/null || true
mkdir -p "$DEST/input/tex" "$DEST/output/chtml/fonts"
cp "$SRC/LICENSE" "$DEST/"
cp "$SRC/es5/tex-mml-chtml.js" "$DEST/"
cp -r "$SRC/es5/input/tex/extensions" "$DEST/input/tex/"
cp -r "$SRC/es5/output/chtml/fonts/woff-v2" "$DEST/output/chtml/fonts/"
cp -r "$SRC/es5/ui" "$DEST/"
echo "MathJax $VERSION vendored into $DEST ($(du -sh "$DEST" | cut -f1))"
