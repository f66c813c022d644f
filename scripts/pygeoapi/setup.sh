#!/usr/bin/env bash
# Create a separate venv for pygeoapi (never inside the repo) for scripts/bench_service.py.
#
# pygeoapi's GeoPackage provider (SQLiteGPKG) loads SpatiaLite as an SQLite extension, so the venv
# is made from Debian's /usr/bin/python3 (built with extension loading) and needs
# libsqlite3-mod-spatialite. Production setup as in pygeoapi's own Docker image: gunicorn with
# gevent workers serving pygeoapi.flask_app:APP.
#
# Usage: scripts/pygeoapi/setup.sh [VENV]   (default /tmp/sasaran-bench/pygeoapi-venv)
set -euo pipefail

VENV=${1:-/tmp/sasaran-bench/pygeoapi-venv}
# pygeoapi 0.21.0 is the newest release that supports Debian bookworm's Python 3.11 (0.22+ need 3.12).
PYGEOAPI_VERSION=${PYGEOAPI_VERSION:-0.21.0}

if ! dpkg -s libsqlite3-mod-spatialite wrk >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq libsqlite3-mod-spatialite wrk python3-venv
fi
if [ ! -x "$VENV/bin/gunicorn" ] || ! "$VENV/bin/pip" show "pygeoapi" 2>/dev/null | grep -qx "Version: $PYGEOAPI_VERSION"; then
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "pygeoapi==$PYGEOAPI_VERSION" "gunicorn[gevent]==27.0.1" "gevent==26.9.0"
fi
"$VENV/bin/python" - <<'PY'
import sqlite3

conn = sqlite3.connect(":memory:")
conn.enable_load_extension(True)
conn.execute("SELECT load_extension('mod_spatialite.so')")
PY
echo "$VENV"
