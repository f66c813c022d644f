"""``POST /targets``: choose villages for a programme; ``GET /changes``: change between two years.

The scoring frame and the villages in scoring order (`layers.targeting.selection.TargetingBase`)
are prepared once at startup with the catalog, which also runs one small selection so that the
first request finds every cache and import warm; a request then only scores and solves. The JSON
answer is `layers.targeting.result.TargetResult`, the route's ``response_model``: the answer, its
OpenAPI schema and the page read one declaration. Errors are domain errors (`InvalidQuery`,
`InfeasibleTargeting` → 400 via `service.errors`); with ``lang=id`` the targeting errors are said in
Bahasa Indonesia, as the planner page shows them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from layers.cancel import checkpoint
from layers.errors import InfeasibleTargeting, InvalidQuery
from layers.export import MEDIA_TYPES, TARGET_FORMATS
from layers.export.targets import target_filename, write_targets
from layers.export.wording import localise_error
from layers.scoring.change import changes, changes_to_csv, changes_to_json
from layers.scoring.rescore import ScoringFrame, store_spec
from layers.store import LayerStore
from layers.targeting.request import TargetRequest
from layers.targeting.result import TargetResult
from service.catalog import Catalog
from service.deps import CatalogDep, StoreDep
from service.heavy import RENDER, WORK, run_heavy
from service.openapi import BINARY, answers
from service.responses import CSVResponse, ORJSONResponse

router = APIRouter(tags=["targets"])


def scoring_frame(catalog: CatalogDep) -> ScoringFrame:
    """The scoring frame of the request's build, prepared with its catalog."""
    return catalog.require_scoring()


FrameDep = Annotated[ScoringFrame, Depends(scoring_frame)]


@router.post(
    "/targets",
    response_model=TargetResult,
    responses=answers(
        {"application/json": "TargetResult"}  # the response_model (layers.targeting.result)
        | {MEDIA_TYPES[f].split(";")[0]: BINARY for f in TARGET_FORMATS if f != "json"},
        description="The selection (JSON), or its download in the format f names.",
    ),
)
async def targets(
    request: Request,
    body: TargetRequest,
    catalog: CatalogDep,
    store: StoreDep,
    f: Annotated[
        Literal["json", "csv", "xlsx", "gpkg", "pdf"],
        Query(description="Answer format (pdf: the printable briefing)."),
    ] = "json",
    lang: Annotated[
        Literal["id", "en"] | None,
        Query(
            description="Language of the file's headers and words (csv, xlsx, pdf; default id) and, when "
            "given, of the error messages (default: English, naming the fields)."
        ),
    ] = None,
    slide: Annotated[bool, Query(description="pdf: add a slide-sized (16:9) summary page first.")] = False,
) -> Response:
    """Choose villages for a programme: the most people reached within budget, quotas and guards."""
    # Heavy work (`service.heavy`): bounded per worker, off the event loop, stopped if the client
    # leaves; a PDF briefing takes a render slot.
    kind = RENDER if f == "pdf" else WORK
    return await run_heavy(request, _answer, catalog, store, body, f, lang, slide, kind=kind)


def _answer(
    catalog: Catalog, store: LayerStore, body: TargetRequest, f: str, lang: str | None, slide: bool
) -> Response:
    result = select(catalog, body, lang)
    if f == "json":
        return ORJSONResponse(result.to_json())
    checkpoint()
    return _download(result, store, f, lang or "id", slide)


def select(catalog: Catalog, body: TargetRequest, lang: str | None) -> TargetResult:
    """The selection of ``body`` on the catalog's prepared arrays; errors in ``lang`` when given."""
    from layers.targeting.selection import select_targets

    try:
        return select_targets(catalog.require_scoring(), catalog.targeting(), body, catalog.spec)
    except InvalidQuery as error:
        if lang != "id" or not hasattr(error, "key"):
            raise
        kind = InfeasibleTargeting if isinstance(error, InfeasibleTargeting) else InvalidQuery
        raise kind(localise_error(error, lang)) from None


@router.get(
    "/changes",
    responses=answers(
        {"application/json": "ChangesResponse", "text/csv": None}, description="Change per unit."
    ),
)
async def changes_between(
    request: Request,
    frame: FrameDep,
    store: StoreDep,
    year_from: Annotated[int, Query(alias="from", description="First year.")],
    year_to: Annotated[int, Query(alias="to", description="Second year.")],
    level: Literal["village", "kecamatan", "kabupaten"] = "kabupaten",
    rank_by: Literal["M0", "H", "poverty_rate"] = "M0",
    f: Literal["json", "csv"] = "json",
) -> Response:
    """Change in poverty rate, H, M0 and poor people per unit between two years, largest fall first.

    Villages whose H moved only because an indicator crossed its cutoff name it (``crossing``) and
    are not ranked as improvements.
    """
    return await run_heavy(request, _changes, frame, store, year_from, year_to, level, rank_by, f)


def _changes(
    frame: ScoringFrame, store: LayerStore, year_from: int, year_to: int, level: str, rank_by: str, f: str
) -> Response:
    spec = store_spec(store)
    table = changes(frame, store, year_from, year_to, spec, level, rank_by)
    if f == "csv":
        name = f"sasaran-changes-{level}-{year_from}-{year_to}{'-synthetic' if store.synthetic else ''}.csv"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return CSVResponse(changes_to_csv(table).encode(), headers=headers)
    return ORJSONResponse(changes_to_json(table, year_from, year_to, level, spec, rank_by))


def _download(result: TargetResult, store: LayerStore, fmt: str, lang: str, slide: bool) -> Response:
    """A selection as a file download (written to a temporary directory, then sent as bytes)."""
    name = target_filename(result, fmt, store.synthetic)
    villages = store.layer("villages") if fmt in ("gpkg", "pdf") else None
    with tempfile.TemporaryDirectory(prefix="sasaran-targets-") as tmp:
        path = write_targets(
            result, Path(tmp) / name, fmt, villages, store.synthetic, lang, store.provenance, slide=slide
        )
        content = path.read_bytes()
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(content, media_type=MEDIA_TYPES[fmt], headers=headers)
