// The map on the HTML pages (service/html.py): the page's features, fetched as GeoJSON from the
// page's own JSON URL (data-features), drawn with the vendored MapLibre. No basemap: everything
// comes from this origin, so the page works offline under the service's CSP.
(function () {
  'use strict';
  const el = document.getElementById('map');
  if (!el || typeof maplibregl === 'undefined') return;
  const url = el.dataset.features;
  const map = new maplibregl.Map({
    container: el,
    style: {
      version: 8,
      sources: {},
      layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef2f5' } }],
    },
    center: [113.9, -1.6],
    zoom: 6,
    attributionControl: false,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));

  function bounds(geojson) {
    let minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity;
    function walk(c) {
      if (typeof c[0] === 'number') {
        minx = Math.min(minx, c[0]); maxx = Math.max(maxx, c[0]);
        miny = Math.min(miny, c[1]); maxy = Math.max(maxy, c[1]);
      } else c.forEach(walk);
    }
    const features = geojson.type === 'Feature' ? [geojson] : geojson.features || [];
    features.forEach((f) => f.geometry && walk(f.geometry.coordinates));
    return isFinite(minx) ? [[minx, miny], [maxx, maxy]] : null;
  }

  map.on('load', () => {
    fetch(url, { headers: { Accept: 'application/geo+json' } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`${r.status} ${url}`))))
      .then((data) => {
        map.addSource('features', { type: 'geojson', data });
        map.addLayer({ id: 'fill', type: 'fill', source: 'features', filter: ['in', ['geometry-type'], ['literal', ['Polygon', 'MultiPolygon']]],
          paint: { 'fill-color': '#d9480f', 'fill-opacity': 0.35 } });
        map.addLayer({ id: 'line', type: 'line', source: 'features', filter: ['!', ['in', ['geometry-type'], ['literal', ['Point', 'MultiPoint']]]],
          paint: { 'line-color': '#7c2d12', 'line-width': 1 } });
        map.addLayer({ id: 'point', type: 'circle', source: 'features', filter: ['in', ['geometry-type'], ['literal', ['Point', 'MultiPoint']]],
          paint: { 'circle-color': '#d9480f', 'circle-radius': 4, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } });
        const box = bounds(data);
        if (box) map.fitBounds(box, { padding: 20, duration: 0, maxZoom: 13 });
        el.dataset.loaded = String((data.features || [data]).length);
      })
      .catch((err) => { el.dataset.error = String(err); });
  });
})();
