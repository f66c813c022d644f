"""``POST /targets``: choose villages for a programme; ``GET /changes``: change between two years.

The scoring frame (`layers.scoring.rescore.ScoringFrame`) is prepared once at startup with the catalog,
so every request only rescores arrays. Errors are domain errors (`InvalidQuery`,
`InfeasibleTargeting` → 400 via `service.errors`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from layers.cancel import checkpoint
from layers.export import MEDIA_TYPES, target_filename, write_targets
from layers.rounding import round_record
from layers.scoring.change import changes, changes_to_csv, changes_to_json
from layers.scoring.rescore import ScoringFrame, store_spec
from layers.store import LayerStore
from layers.targeting.selection import TargetRequest, TargetResult, select_targets
from service.deps import CatalogDep, StoreDep
from service.heavy import RENDER, WORK, run_heavy
from service.responses import CSVResponse, ORJSONResponse

router = APIRouter(tags=["targets"])


def scoring_frame(catalog: CatalogDep) -> ScoringFrame:
    """The scoring frame of the request's build, prepared with its catalog."""
    return catalog.require_scoring()


FrameDep = Annotated[ScoringFrame, Depends(scoring_frame)]


@router.post("/targets")
async def targets(
    request: Request,
    body: TargetRequest,
    frame: FrameDep,
    store: StoreDep,
    f: Annotated[
        Literal["json", "csv", "xlsx", "gpkg", "pdf"],
        Query(description="Answer format (pdf: the printable briefing)."),
    ] = "json",
    lang: Annotated[
        Literal["id", "en"], Query(description="Language of the file's headers and words (csv, xlsx, pdf).")
    ] = "id",
) -> Response:
    """Choose villages for a programme: the most people reached within budget and quotas."""
    # Heavy work (`service.heavy`): bounded per worker, off the event loop, stopped if the client
    # leaves; a PDF briefing takes a render slot.
    return await run_heavy(request, _answer, frame, store, body, f, lang, kind=RENDER if f == "pdf" else WORK)


def _answer(frame: ScoringFrame, store: LayerStore, body: TargetRequest, f: str, lang: str) -> Response:
    villages = store.layer("villages")
    result = select_targets(frame, villages, body, store_spec(store))
    if f == "json":
        return ORJSONResponse(round_record(result.to_json()))  # as a person reads it
    checkpoint()
    return _download(result, store, f, lang)


@router.get("/changes")
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
    """Change in poverty rate, H and M0 per unit between two years, largest fall first."""
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


def _download(result: TargetResult, store: LayerStore, fmt: str, lang: str) -> Response:
    """A selection as a file download (written to a temporary directory, then sent as bytes)."""
    name = target_filename(result, fmt, store.synthetic)
    villages = store.layer("villages")
    with tempfile.TemporaryDirectory(prefix="sasaran-targets-") as tmp:
        path = write_targets(result, Path(tmp) / name, fmt, villages, store.synthetic, lang, store.provenance)
        content = path.read_bytes()
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(content, media_type=MEDIA_TYPES[fmt], headers=headers)
