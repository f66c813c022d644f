"""HTML pages of the OGC API resources: landing, conformance, collections, one collection, items and
one feature, for people in a browser (JSON stays the default for every other client).

Small string templates; every value is escaped (`esc`). The pages load only this origin's files:
``/docs/static/pages.css`` and ``pages.js`` (a small MapLibre map of the page's features, fetched
as GeoJSON from the page's own JSON URL) and the planner's vendored MapLibre, so they work offline
under the service's Content-Security-Policy (no inline script or style).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from layers.schema import field_for
from service.links import href, request_href

#: Query values of ``f`` that ask for a page.
HTML_FORMAT = "html"
_JSON_TYPES = ("application/json", "application/geo+json", "application/schema+json")
#: Features listed in an items page's table (the map shows the whole page).
TABLE_ROWS = 500


def esc(value: object) -> str:
    """``value`` as HTML text (quotes escaped too, so it is safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def wants_html(request: Request, fmt: str | None) -> bool:
    """Whether to answer with a page: ``f=html``, or (without ``f``) an Accept that prefers HTML.

    Browsers send ``text/html,...,*/*;q=0.8``; curl, GDAL, QGIS and scripts send ``*/*`` or a JSON
    type, and keep getting JSON. ``*/*`` alone never selects HTML.
    """
    if fmt is not None:
        return fmt == HTML_FORMAT
    quality = _accept(request.headers.get("accept", ""))
    html_q = quality.get("text/html", 0.0)
    return html_q > 0 and html_q >= max((quality.get(t, 0.0) for t in _JSON_TYPES), default=0.0)


def _accept(header: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in header.split(",")[:32]:  # a browser sends a handful; more is not a browser
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out[media.strip().lower()] = max(q, out.get(media.strip().lower(), 0.0))
    return out


class Page(HTMLResponse):
    """An HTML page; ``Vary: Accept`` because the same URL also answers JSON."""

    def __init__(self, content: str, status_code: int = 200) -> None:
        super().__init__(content, status_code=status_code, headers={"Vary": "Accept"})


def _document(request: Request, title: str, body: str, json_href: str, map_href: str | None = None) -> Page:
    static = href(request, "/docs/static")
    vendor = href(request, "/planner/static/vendor")
    map_head = (
        f'<link rel="stylesheet" href="{esc(vendor)}/maplibre-gl.css">'
        f'<script src="{esc(vendor)}/maplibre-gl.js" defer></script>'
        if map_href
        else ""
    )
    map_div = f'<div id="map" class="map" data-features="{esc(map_href)}"></div>' if map_href else ""
    crumbs = _breadcrumbs(request)
    return Page(
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · Sasaran</title>"
        f'<link rel="stylesheet" href="{esc(static)}/pages.css">{map_head}'
        f'<link rel="alternate" type="application/json" href="{esc(json_href)}">'
        f'<script src="{esc(static)}/pages.js" defer></script>'
        "</head><body>"
        f'<header><nav class="crumbs">{crumbs}</nav>'
        f'<a class="json" href="{esc(json_href)}">JSON</a></header>'
        f"<main><h1>{esc(title)}</h1>{map_div}{body}</main>"
        "</body></html>\n"
    )


def _breadcrumbs(request: Request) -> str:
    parts = [p for p in request.url.path.split("/") if p]
    prefix = request.base_url.path.strip("/").split("/") if request.base_url.path.strip("/") else []
    parts = parts[len(prefix) :]
    crumbs = [f'<a href="{esc(href(request, "/"))}">Sasaran</a>']
    for i, part in enumerate(parts):
        path = "/" + "/".join(parts[: i + 1])
        crumbs.append(f'<a href="{esc(href(request, path) + "?f=html")}">{esc(part)}</a>')
    return " / ".join(crumbs)


def _links(links: Iterable[Mapping[str, Any]]) -> str:
    items = []
    for link in links:
        label = link.get("title") or link.get("rel")
        page = _as_page(str(link["href"]), str(link.get("type", "")))
        items.append(
            f'<li><a href="{esc(page)}">{esc(label)}</a> '
            f'<span class="rel">{esc(link.get("rel"))} · {esc(link.get("type", ""))}</span></li>'
        )
    return f'<ul class="links">{"".join(items)}</ul>'


def _as_page(url: str, media_type: str) -> str:
    """Links between JSON resources lead to their pages; downloads and tiles stay as they are."""
    if (
        media_type in ("application/json", "application/geo+json")
        and "/tiles" not in url
        and "/exports" not in url
    ):
        if "/scores/" in url or url.rstrip("/").endswith(("/conformance", "/healthz", "/exports")):
            return url
        return url + ("&" if "?" in url else "?") + "f=html"
    return url


def _json_href(request: Request) -> str:
    return request_href(request, f="json")


def landing(request: Request, doc: Mapping[str, Any]) -> Page:
    """The landing page: what the service is and a link to every service."""
    body = f'<p class="lead">{esc(doc.get("description"))}</p>{_links(doc["links"])}'
    return _document(request, str(doc["title"]), body, _json_href(request))


def conformance(request: Request, doc: Mapping[str, Any]) -> Page:
    """The conformance classes."""
    items = "".join(f"<li><code>{esc(c)}</code></li>" for c in doc["conformsTo"])
    return _document(request, "Conformance", f"<ul>{items}</ul>", _json_href(request))


def collections(request: Request, doc: Mapping[str, Any]) -> Page:
    """Every collection, with its description and links."""
    rows = []
    for c in doc["collections"]:
        page = href(request, f"/collections/{c['id']}") + "?f=html"
        items = href(request, f"/collections/{c['id']}/items") + "?f=html"
        rows.append(
            f'<tr><td><a href="{esc(page)}">{esc(c["id"])}</a></td><td>{esc(c.get("description"))}</td>'
            f'<td><a href="{esc(items)}">features</a></td></tr>'
        )
    body = (
        "<table><thead><tr><th>collection</th><th>description</th><th></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return _document(request, "Collections", body, _json_href(request))


def collection(request: Request, doc: Mapping[str, Any]) -> Page:
    """One collection: description, extent and links."""
    extent = doc.get("extent") or {}
    spatial = (extent.get("spatial") or {}).get("bbox") or []
    temporal = (extent.get("temporal") or {}).get("interval") or []
    facts = [("bbox (lon, lat)", ", ".join(f"{v:.4f}" for v in spatial[0]) if spatial else "")]
    if temporal:
        facts.append(("time", " – ".join(str(v) for v in temporal[0])))
    table = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts)
    body = f'<p class="lead">{esc(doc.get("description"))}</p><table>{table}</table>{_links(doc["links"])}'
    return _document(request, str(doc.get("title") or doc["id"]), body, _json_href(request))


def _heading(name: str) -> str:
    field = field_for(name)
    if field is None:
        return f"<th>{esc(name)}</th>"
    unit = f" ({field.unit})" if field.unit not in ("text", "code", "boolean", "count") else ""
    return f'<th title="{esc(field.title.both() + unit)}">{esc(name)}</th>'


def _cell(value: object, name: str = "") -> str:
    field = field_for(name) if name else None
    if field is not None and field.unit in ("year", "code"):  # 2024, not 2,024
        return f'<td class="num">{esc(value)}</td>'
    if isinstance(value, float):
        return f'<td class="num">{esc(f"{value:,.4g}")}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{esc(f"{value:,}")}</td>'
    return f"<td>{esc(value)}</td>"


def items(request: Request, title: str, page: Mapping[str, Any]) -> Page:
    """A page of features: a map of them, a table of their properties, previous and next links."""
    features = page.get("features", [])
    names: list[str] = list(features[0].get("properties") or {}) if features else []
    item_base = request_href(request).split("?", 1)[0]
    rows = []
    for feature in features[:TABLE_ROWS]:
        fid = feature.get("id")
        link = f'<a href="{esc(f"{item_base}/{fid}?f=html")}">{esc(fid)}</a>'
        props = feature.get("properties") or {}
        rows.append(f"<tr><td>{link}</td>{''.join(_cell(props.get(n), n) for n in names)}</tr>")
    head = "<th>id</th>" + "".join(_heading(n) for n in names)
    limit = request.query_params.get("limit")
    nav = [
        f'<a rel="{esc(link["rel"])}" href="{esc(_html_href(str(link["href"]), limit))}">'
        f"{esc(link.get('title'))}</a>"
        for link in page.get("links", [])
        if link.get("rel") in ("prev", "next")
    ]
    returned, matched = page.get("numberReturned", len(features)), page.get("numberMatched", len(features))
    body = (
        f'<p class="lead">{returned:,} of {matched:,} features</p><nav class="pages">{" ".join(nav)}</nav>'
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    json_href = _json_href(request)
    return _document(request, title, body, json_href, map_href=json_href)


def _html_href(url: str, limit: str | None) -> str:
    """A page link as the page's own: the reader's ``limit`` (JSON `next` links ask for more)."""
    base, _, query = url.partition("?")
    params = [p for p in query.split("&") if p and not p.startswith(("f=", "limit="))]
    params += [f"limit={limit}"] if limit else []
    return base + "?" + "&".join([*params, "f=html"])


def feature(request: Request, title: str, doc: Mapping[str, Any]) -> Page:
    """One feature: a map of it and its properties with their titles and units."""
    rows = []
    for name, value in (doc.get("properties") or {}).items():
        field = field_for(name)
        meaning = f"{field.title.both()} ({field.unit})" if field else ""
        rows.append(
            f'<tr><th>{esc(name)}</th>{_cell(value, name)}<td class="meaning">{esc(meaning)}</td></tr>'
        )
    body = f"<table><tbody>{''.join(rows)}</tbody></table>{_links(doc.get('links', []))}"
    json_href = _json_href(request)
    return _document(request, title, body, json_href, map_href=json_href)
