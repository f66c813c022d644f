"""What a map shows (level 4): `classes` (the one classification and its colours), `maplibre` (the
tiles' style), `qml` (QGIS styles), `tiles` and `_mvt` (Mapbox vector tiles, H3 parents at low zoom)."""
