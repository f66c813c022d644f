#!/usr/bin/env bash
# Vendor Swagger UI for /docs (service/static/swagger/) from the npm registry, pinned to one version.
# Reproduces the committed files exactly: the self-contained bundle, its stylesheet and its licence
# (no source maps, no standalone preset: /docs needs only the bundle). Needs node + npm.
# Usage: scripts/vendor-swagger.sh [VERSION]
set -euo pipefail
VERSION="${1:-5.35.0}"
DEST="$(cd "$(dirname "$0")/.." && pwd)/service/static/swagger"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@${VERSION}" >/dev/null && tar -xzf "swagger-ui-dist-${VERSION}.tgz")
mkdir -p "$DEST"
for f in swagger-ui-bundle.js swagger-ui.css LICENSE; do
  install -m 0644 "$work/package/$f" "$DEST/$f"
done
# Both files end with a sourceMappingURL comment; we ship no maps, so browsers would 404 on them.
sed -i '/^\/\/# sourceMappingURL=/d' "$DEST/swagger-ui-bundle.js"
sed -i 's#/\*\# sourceMappingURL=[^*]*\*/##' "$DEST/swagger-ui.css"
(cd "$DEST" && sha256sum swagger-ui-bundle.js swagger-ui.css LICENSE)
