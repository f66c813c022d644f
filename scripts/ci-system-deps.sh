#!/usr/bin/env bash
# System packages that the real-client tests use: QGIS under the system Python, GDAL's command-line
# tools, Chromium for the planner page, poppler for the PDF briefing. Needs root; skipped (and
# those tests skip with a visible reason) where apt-get is not available.
set -euo pipefail
need=()
/usr/bin/python3 -c "import qgis.core" 2>/dev/null || need+=(python3-qgis qgis-providers)
command -v ogrinfo >/dev/null || need+=(gdal-bin)
command -v chromium >/dev/null || need+=(chromium)
command -v npm >/dev/null || need+=(npm)
# pdftoppm/pdftotext render and read the PDF briefing in tests/test_briefing.py
command -v pdftoppm >/dev/null || need+=(poppler-utils)
if [ ${#need[@]} -eq 0 ]; then
  echo "system deps: already installed"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system deps: cannot install ${need[*]} (not root or no apt-get); their tests will be skipped"
  exit 0
fi
echo "system deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# A failed install (a mirror down) is reported, not fatal: the tests that need these clients then
# skip and say why, and every other test still runs.
if ! { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }; then
  echo "system deps: WARNING: could not install ${need[*]}; their tests will be skipped" >&2
fi
