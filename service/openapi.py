"""The OpenAPI document, true to what the service answers: OpenAPI 3.0.3 (conformance class
``oas30``), served at ``/openapi`` and ``/openapi.json`` as ``application/vnd.oai.openapi+json;version=3.0``.

FastAPI writes the document from the routes: their parameters (the items parameters from
`service.deps.ItemsParams`), bodies and answers, which each route declares with ``responses=`` built
by `answers` (the 200 media types with their schemas, 404 where the path names something). This
module then adds, in one place:

- the problem+json errors every operation can return (400, 405, 413, 503);
- the parameters' true domains where the store decides them: years, levels, tile matrices, layers,
  the indicator spec of ``POST /scores``, one items path per collection (`service.ogc`);
- OpenAPI 3.0 spellings of what pydantic writes as JSON Schema 2020-12 (`to_oas30`): ``nullable``
  for ``null`` types, ``enum`` for ``const``, one ``example``.

Building it reads the catalog only: no layer is rescored for it.

GDAL's OAPIF driver (≥ 3.9) and QGIS read ``components/parameters/limit``: its ``default`` and
``maximum`` choose their page size; see `service.ogc.add_collection_paths`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from layers.export import FORMATS
from layers.maps.tiles import LIMIT_ZOOM
from layers.schema import LEVELS
from service import models
from service.catalog import Catalog
from service.responses import JSON, OPENAPI_JSON, PROBLEM_JSON

OPENAPI_VERSION = "3.0.3"
#: The media type the document is served with (what GDAL and QGIS ask for).
MEDIA_TYPE = OPENAPI_JSON

_ERRORS: dict[int, str] = {
    400: "Bad request: a parameter or body the service cannot use; `detail` says what to change.",
    404: "Not found: no such collection, feature, level, layer, download or tile.",
    405: "Method not allowed on this path; the `Allow` header lists the methods there are.",
    413: "Request body larger than the service accepts (SASARAN_MAX_BODY_BYTES).",
    415: "The body's media type is not one this operation reads; `detail` names those it does.",
    503: "This worker is busy with heavy requests (`Retry-After` says when to try again), or the store "
    "cannot be read right now.",
    401: "Sign in first: no session or bearer token, or one expired, revoked or of a disabled account.",
    403: "Your role may not do this (or the page's CSRF token or origin is wrong).",
    409: "The record changed since you saw it (`current` holds it as it is now), or its state forbids this.",
    422: "An uploaded sheet with errors; nothing was written (`errors` names each row and column).",
    429: "Too many failed sign-ins for the account or the address; `Retry-After` says when to try again.",
}
#: Errors every operation can answer.
EVERYWHERE = (400, 405, 413, 503)
#: Pages and assets of ``/verification`` that need no sign-in (they hold no data).
_OPEN_VERIFICATION = ("/verification", "/verification/dashboard", "/verification/signin-options")

TEXT: dict[str, Any] = {"type": "string"}
BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
OBJECT: dict[str, Any] = {"type": "object"}


def ref(name: str) -> dict[str, str]:
    """A reference to a schema in ``components/schemas``."""
    return {"$ref": f"#/components/schemas/{name}"}


def answers(
    content: Mapping[str, str | dict[str, Any] | None],
    *,
    found: bool = False,
    not_modified: bool = False,
    unsupported_media: bool = False,
    description: str = "Successful answer.",
    status: int = 200,
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: its success media types and the errors beyond `EVERYWHERE`.

    ``content`` maps a media type to a model name (a component schema), a schema, or None (text).
    ``found``: the path names something that may not exist (404); ``not_modified``: the answer has
    an ETag (304); ``unsupported_media``: a body of another type is refused (415).
    """
    schemas = {
        media: {"schema": ref(schema) if isinstance(schema, str) else copy.deepcopy(schema or TEXT)}
        for media, schema in content.items()
    }
    out: dict[int | str, dict[str, Any]] = {status: {"description": description, "content": schemas}}
    if not_modified:
        out[304] = {"description": "Not modified: If-None-Match named the current ETag."}
    codes = [404] if found else []
    codes += [415] if unsupported_media else []
    out.update(problem_responses(codes))
    return out


#: Response models documented as components (referenced by `answers`).
MODELS: tuple[type[BaseModel], ...] = (
    models.Landing,
    models.Conformance,
    models.Collections,
    models.Collection,
    models.Queryables,
    models.Feature,
    models.FeatureCollection,
    models.ScoreResponse,
    models.ChangesResponse,
    models.Exports,
    models.Health,
    models.Problem,
)


def document(
    app: FastAPI, catalog: Catalog | None, add_collections: Callable[[dict], dict]
) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of ``app`` (the store's collections added by ``add_collections``)."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=OPENAPI_VERSION,
        description=app.description,
        routes=app.routes,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in MODELS:
        schemas.update(_model_schemas(model))
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    if catalog is not None:
        _store_domains(doc, catalog)
        doc = add_collections(doc)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)  # validation errors are answered 400 (service.errors)
            codes = [*EVERYWHERE, *_verification_codes(path, method)]
            if "requestBody" in op:  # a body of another media type is refused (`service.bodies`)
                codes.append(415)
            for code, answer in problem_responses(codes).items():
                responses.setdefault(code, answer)
    return to_oas30(doc)


def _model_schemas(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
    defs = schema.pop("$defs", {})
    return {**defs, model.__name__: schema}


def problem_responses(codes: Iterable[int]) -> dict[str, Any]:
    """The problem+json responses ``codes`` (RFC 9457 bodies, `models.Problem`)."""
    out: dict[str, Any] = {}
    for code in codes:
        content = {PROBLEM_JSON: {"schema": ref("Problem")}}
        out[str(code)] = {"description": _ERRORS[code], "content": content}
        if code in _HEADERS:
            out[str(code)]["headers"] = copy.deepcopy(_HEADERS[code])
    return out


#: Headers of some errors: when to retry a busy worker (`service.heavy`), what a body must be.
_HEADERS: dict[int, dict[str, Any]] = {
    503: {"Retry-After": {"description": "Seconds after which to try again.", "schema": {"type": "integer"}}},
    415: {"Accept-Post": {"description": "The media type a body must have.", "schema": {"type": "string"}}},
}


def _verification_codes(path: str, method: str) -> list[int]:
    """The errors of a ``/verification`` operation: sign-in, role, region, conflicts, limits."""
    if not path.startswith("/verification") or path in _OPEN_VERIFICATION:
        return []
    if path == "/verification/signin":
        return [401, 403, 429]
    codes = [401, 403, 404]
    if method in ("post", "patch"):
        codes.append(409)
    if path.endswith("/sheet") and method == "post":
        codes.append(422)
    return codes


# ------------------------------------------------------------------------------------------------
# Domains the store decides
# ------------------------------------------------------------------------------------------------

#: ``k``: a decimal in (0, 1] or a fraction of single digits a/b with a ≤ b.
K_PATTERN = (
    r"^\s*(0?\.[0-9]{0,5}[1-9]|1|1\.0{1,6}|" + "|".join(f"{a}/[{a}-9]" for a in range(1, 10)) + r")\s*$"
)


def _store_domains(doc: dict[str, Any], catalog: Catalog) -> None:
    years = sorted(int(y) for y in catalog.store.years)
    levels = [lv.name for lv in LEVELS] + [lv.layer for lv in LEVELS if lv.layer and lv.layer != lv.name]
    tile_max = (1 << LIMIT_ZOOM) - 1
    domains: dict[str, dict[str, Any]] = {
        "level": {"type": "string", "enum": levels},
        "z": {"type": "integer", "minimum": 0, "maximum": LIMIT_ZOOM},
        "y": {"type": "integer", "minimum": 0, "maximum": tile_max},
        "x": {"type": "integer", "minimum": 0, "maximum": tile_max},
        "layer": {"type": "string", "enum": list(catalog.store.names)},
        "ext": {"type": "string", "enum": list(FORMATS)},
    }
    if years:
        domains |= {name: {"type": "integer", "enum": years} for name in ("year", "from", "to")}
    for path, item in doc["paths"].items():
        for op in item.values():
            for param in op.get("parameters", []):
                if "$ref" in param:
                    continue
                name = param["name"]
                if name in domains and (name != "level" or path.startswith("/scores")):
                    param["schema"] = copy.deepcopy(domains[name]) | {
                        k: v for k, v in param.get("schema", {}).items() if k in ("title", "description")
                    }
                if name == "k":
                    param["schema"] = {"type": "string", "pattern": K_PATTERN}
    _score_body(doc, catalog)
    _score_basis(doc, catalog)
    _target_body(doc, catalog)


def _score_basis(doc: dict[str, Any], catalog: Catalog) -> None:
    """``basis`` of ``/scores/{level}``: area (cells), or household where the store has a register."""
    register = catalog.scoring is not None and catalog.scoring.households is not None
    parameter = {
        "name": "basis",
        "in": "query",
        "required": False,
        "description": "area (default): H3 cells weighted by people; household: the register's families "
        "weighted by members, scored with the store's household indicator set (units carry hh_H, hh_A, "
        "hh_M0, families ..., null in units of fewer than 3 families; no hexagon level).",
        "schema": {
            "type": "string",
            "enum": ["area", "household"] if register else ["area"],
            "default": "area",
        },
    }
    for method in ("get", "post"):
        op = doc["paths"].get("/scores/{level}", {}).get(method)
        if op is not None and not any(p.get("name") == "basis" for p in op.get("parameters", [])):
            op.setdefault("parameters", []).append(copy.deepcopy(parameter))


#: A positive decimal or fraction, as text (``"0.25"``, ``"1/4"``): zero and ``"1/0"`` are refused.
_POSITIVE = r"(?:[0-9]{0,20}[1-9][0-9]{0,20}(?:\.[0-9]{0,20})?|[0-9]{0,20}\.[0-9]{0,20}[1-9][0-9]{0,20})"
POSITIVE_PATTERN = rf"^\s*{_POSITIVE}(?:\s*/\s*{_POSITIVE})?\s*$"
#: Any finite decimal or fraction, as text (``"-3.5"``, ``"623954"``, ``"1/3"``).
_DECIMAL = r"[+-]?(?:[0-9]{1,20}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})"
DECIMAL_PATTERN = rf"^\s*{_DECIMAL}(?:\s*/\s*{_POSITIVE})?\s*$"
#: Text with something in it: the service refuses names, dimensions and sources that are blank.
_WORDS = {"type": "string", "pattern": r"\S"}


def indicator_spec_schema(catalog: Catalog) -> dict[str, Any]:
    """The indicator spec (the TOML structure, as JSON) as the service accepts it for this store.

    Every column named is one of the store's indicator columns
    (`layers.scoring.rescore.ScoringFrame.indicator_columns`), every weight is > 0, k is in (0, 1],
    and text that must say something has a non-blank character. Only what JSON Schema cannot state
    is left to the description (weights summing to 1, unique names): a spec breaking it is a 400
    naming the rule.
    """
    from layers.scoring.spec import MAX_INDICATORS, MAX_NAME_CHARS, spec_to_dict

    positive = {"oneOf": [{"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1},
                          {"type": "string", "pattern": POSITIVE_PATTERN}]}  # fmt: skip
    finite = {"oneOf": [{"type": "number"}, {"type": "string", "pattern": DECIMAL_PATTERN}]}
    share = {"oneOf": [{"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1},
                       {"type": "string", "pattern": K_PATTERN}]}  # fmt: skip
    scoring = catalog.scoring
    columns = scoring.indicator_columns() if scoring is not None else []
    indicator = {
        "type": "object",
        "required": ["name", "column", "dimension", "weight", "cutoff", "deprived_when"],
        "additionalProperties": False,
        "properties": {
            "name": _WORDS | {"maxLength": MAX_NAME_CHARS},
            "column": {"type": "string", "enum": columns} if columns else _WORDS,
            "dimension": _WORDS | {"maxLength": MAX_NAME_CHARS},
            "weight": positive,
            "cutoff": finite,
            "deprived_when": {"type": "string", "enum": ["below", "above"]},
            "source": {
                "type": "object",
                "required": ["document", "article", "year"],
                "additionalProperties": False,
                "properties": {
                    "document": _WORDS,
                    "article": _WORDS,
                    "year": {"type": "integer", "minimum": 1900, "maximum": 2100},
                },
            },
            "rationale": _WORDS,
        },
    }
    return {
        "type": "object",
        "description": "An indicator spec (the TOML structure, as JSON). Besides what this schema "
        "states, the weights must sum to 1 and the names be unique; a spec breaking either is "
        "answered 400 naming the rule.",
        "required": ["indicator"],
        "additionalProperties": False,
        "properties": {
            "k": share,
            "description": {"type": "string"},
            "indicator": {"type": "array", "minItems": 1, "maxItems": MAX_INDICATORS, "items": indicator},
        },
        "example": spec_to_dict(catalog.spec),
    }


def _score_body(doc: dict[str, Any], catalog: Catalog) -> None:
    """``POST /scores/{level}``: the indicator spec as a JSON Schema, with the store's spec as example."""
    doc["components"]["schemas"]["IndicatorSpec"] = indicator_spec_schema(catalog)
    op = doc["paths"].get("/scores/{level}", {}).get("post")
    if op is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": ref("IndicatorSpec")}}}


def _target_body(doc: dict[str, Any], catalog: Catalog) -> None:
    """``POST /targets``: the selection request with the domains the store decides.

    Written from the pydantic model itself (FastAPI's document rounds integer bounds through
    floats: a seed maximum of 2**63 - 1 came out as 2**63, which the service refuses), with the
    store's years, its kabupaten codes as the quota keys, the spec as an `indicator_spec_schema`,
    and k and the dimension weights as the service reads them.
    """
    from layers.targeting.request import TargetRequest

    schemas = doc["components"]["schemas"]
    if "TargetRequest" not in schemas:
        return
    schemas.update(_model_schemas(TargetRequest))
    props = schemas["TargetRequest"]["properties"]
    years = sorted(int(y) for y in catalog.store.years)
    if years:
        # OpenAPI 3.0: a nullable enum lists null among its values, or null is not one of them.
        props["year"] = {"type": "integer", "nullable": True, "enum": [*years, None]} | _doc(props["year"])
    props["spec"] = {"anyOf": [ref("IndicatorSpec"), {"type": "null"}]} | _doc(props["spec"])
    # household only where the store has a register (else a 400 names basis); a nullable enum
    # lists null among its values (OpenAPI 3.0).
    registered = catalog.scoring is not None and catalog.scoring.households is not None
    bases: list[str | None] = ["household", "area"] if registered else ["area"]
    props["basis"] = {"type": "string", "nullable": True, "enum": [*bases, None]} | _doc(props["basis"])
    share = [
        {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        {"type": "string", "pattern": K_PATTERN},
    ]
    props["k"] = {"anyOf": [*share, {"type": "null"}]} | _doc(props["k"])
    weight = {"type": "number", "exclusiveMinimum": 0, "maximum": 1}
    props["dimension_weights"] = {
        "anyOf": [{"type": "object", "additionalProperties": weight}, {"type": "null"}]
    } | _doc(props["dimension_weights"])
    if "kabupaten" in catalog.collections:
        codes = sorted(map(str, catalog.collections["kabupaten"].table.ids.tolist()))
        for name in ("kabupaten_min", "kabupaten_max"):
            count = props[name].get("additionalProperties", {"type": "integer"})
            props[name] = _doc(props[name]) | {
                "type": "object",
                "properties": {code: copy.deepcopy(count) for code in codes},
                "additionalProperties": False,
            }


def _doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k in ("title", "description", "default")}


# ------------------------------------------------------------------------------------------------
# JSON Schema 2020-12 (pydantic) → OpenAPI 3.0 Schema objects
# ------------------------------------------------------------------------------------------------


def to_oas30(node: Any) -> Any:
    """``node`` with pydantic's JSON Schema 2020-12 spellings rewritten as OpenAPI 3.0 ones."""
    if isinstance(node, list):
        return [to_oas30(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = _nullable({k: to_oas30(v) for k, v in node.items()})
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if isinstance(out.get("examples"), list):  # 3.0: one `example` in a schema
        examples = out.pop("examples")
        if examples:
            out.setdefault("example", examples[0])
    for bound, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[flag], out[bound] = value, True
    names = out.pop("propertyNames", None)
    if isinstance(names, dict) and "enum" in names and isinstance(out.get("additionalProperties"), dict):
        value = out.pop("additionalProperties")
        out["properties"] = {name: copy.deepcopy(value) for name in names["enum"]}
        out["additionalProperties"] = False
    return out


def _nullable(out: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, {type: null}]`` and ``type: [X, "null"]`` as ``X`` with ``nullable: true``."""
    for key in ("anyOf", "oneOf"):
        options = out.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            del out[key]
            if len(rest) == 1:
                out = {**rest[0], **out} if "$ref" not in rest[0] else {"allOf": rest, **out}
            else:
                out[key] = rest
            out["nullable"] = True
    if isinstance(out.get("type"), list):
        types = [t for t in out["type"] if t != "null"]
        out["nullable"] = len(types) < len(out["type"]) or out.get("nullable", False)
        out["type"] = types[0] if len(types) == 1 else out["type"]
    return out
