"""Arrays and geometry (level 2): H3 cells, people per cell, distances, travel times, the hierarchy.

`grid` (cells of villages, centres, polygons, parents), `population` (raster to people per cell),
`distance` (straight-line nearest), `access` (friction surface and travel time) and `units`
(village -> kecamatan -> kabupaten as positions).
"""
