#!/usr/bin/env bash
# Vendor MapLibre GL JS for the planner page (service/planner/static/vendor/) from the npm registry.
# Reproduces the committed files exactly: the minified UMD build, its stylesheet and its licence
# (no source maps). Needs node + npm. Usage: scripts/vendor-planner.sh [VERSION]
set -euo pipefail
VERSION="${1:-5.24.1}"
DEST="$(cd "$(dirname "$0")/.." && pwd)/service/planner/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "maplibre-gl@${VERSION}" >/dev/null && tar -xzf "maplibre-gl-${VERSION}.tgz")
mkdir -p "$DEST"
for f in dist/maplibre-gl.js dist/maplibre-gl.css LICENSE.txt; do
  install -m 0644 "$work/package/$f" "$DEST/$(basename "$f")"
done
# The bundle ends with a sourceMappingURL comment; we ship no map, so browsers would 404 on it.
sed -i '/^\/\/# sourceMappingURL=/d' "$DEST/maplibre-gl.js"
sha256sum "$DEST"/maplibre-gl.js "$DEST"/maplibre-gl.css "$DEST"/LICENSE.txt
