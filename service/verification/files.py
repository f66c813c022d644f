"""Files of verification: a village's offline sheet (download and upload) and a kabupaten's final
list for the decree (XLSX, PDF). Every download names people: each is audited, none is cached.
"""

from __future__ import annotations

import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from layers.export.formats import MEDIA_TYPES
from layers.export.households import LIST_FORMATS, family_list, list_filename, write_family_list
from layers.verification import audit
from layers.verification.errors import InvalidInput, RecordNotFound
from layers.verification.final_list import final_list
from service.deps import ServedDep
from service.verification import models
from service.verification.answers import private_file, private_json
from service.verification.auth import CallerDep, VerificationDep

#: The sheet's and the XLSX lists' media type.
XLSX = MEDIA_TYPES["xlsx"]

router = APIRouter(prefix="/verification", tags=["verification: files"])

VillageCode = Annotated[str, Path(pattern=r"^[0-9]{10}$", description="BPS village code (10 digits)")]
KabupatenCode = Annotated[str, Path(pattern=r"^[0-9]{4}$", description="BPS kabupaten code (4 digits)")]
PDF = "application/pdf"
_SHEET: dict[int | str, dict[str, Any]] = {
    200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}
}


@router.get("/villages/{code}/sheet", summary="The village's offline sheet (XLSX; audited)", responses=_SHEET)
def sheet_download(code: VillageCode, caller: CallerDep, state: VerificationDep) -> Response:
    """An XLSX to fill offline: instructions, a status drop-down, protected id columns, each row's version."""
    from layers.verification import sheets  # openpyxl: only when a sheet is made or read

    content, name = sheets.write_sheet(state.db, state.require_cipher(), caller, code)
    return private_file(content, XLSX, name)


@router.post(
    "/villages/{code}/sheet",
    summary="Upload a filled sheet (checked whole; nothing written if any row is wrong)",
    responses={200: {"model": models.SheetResult}, 422: {"model": models.SheetProblem}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def sheet_upload(
    code: VillageCode, request: Request, caller: CallerDep, state: VerificationDep
) -> Response:
    """Apply an uploaded sheet: rows changed since the download are conflicts, never overwritten.

    Errors (422) name the sheet, row and column of each, in Bahasa Indonesia; then nothing is
    written. The body is the XLSX file itself (``Content-Type:
    application/vnd.openxmlformats-officedocument.spreadsheetml.sheet``).
    """
    if not request.headers.get("content-type", "").startswith(XLSX):
        raise InvalidInput(f"send the sheet as the request body with Content-Type: {XLSX}")
    content = await request.body()
    cipher = state.require_cipher()
    validate = state.active_validator()
    from layers.verification import sheets

    result = await run_in_threadpool(sheets.apply_sheet, state.db, cipher, caller, code, content, validate)
    return private_json(result.as_dict())


@router.get(
    "/kabupaten/{code}/final-list",
    summary="The kabupaten's final list for the decree (XLSX or PDF; audited)",
    responses={
        200: {
            "content": {
                XLSX: {"schema": {"type": "string", "format": "binary"}},
                PDF: {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
def final_list_download(
    code: KabupatenCode,
    caller: CallerDep,
    state: VerificationDep,
    f: Annotated[Literal["xlsx", "pdf"], Query(description="The file format")] = "xlsx",
    lang: Annotated[Literal["id", "en"], Query(description="The documents' language")] = "id",
) -> Response:
    """The families of the approved villages with the counts by status and a signature block.

    Kabupaten accounts (their own) and provinsi accounts. Villages not approved yet are listed
    apart, and the documents say the list is incomplete while there are any.
    """
    from layers.export import decree  # fpdf2 and openpyxl: only when a list is made

    made = final_list(state.db, state.require_cipher(), caller, code)
    if f == "pdf":
        return private_file(decree.write_pdf(made, lang), PDF, decree.filename(made, "pdf"))
    return private_file(decree.write_xlsx(made, lang), XLSX, decree.filename(made, "xlsx"))


LIST_MEDIA = {"xlsx": XLSX, "csv": "text/csv; charset=utf-8", "pdf": PDF}


@router.post(
    "/family-lists",
    summary="The families of chosen villages by name, ranked by their own score (audited)",
    responses={
        200: {
            "content": {
                media.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                for media in LIST_MEDIA.values()
            }
        }
    },
)
def family_list_download(
    body: models.FamilyListBody,
    caller: CallerDep,
    state: VerificationDep,
    served: ServedDep,
    f: Annotated[Literal["xlsx", "csv", "pdf"], Query(description="The file format")] = "xlsx",
    lang: Annotated[Literal["id", "en"], Query(description="The list's language")] = "id",
    year: Annotated[int | None, Query(ge=1990, le=2100, description="A year of the register")] = None,
) -> Response:
    """From a selection to families: the families of ``villages`` (a ``POST /targets`` answer's
    ``selected[].village_code``), ranked by their own deprivation score, priority groups and deciles
    flagged. Every village must lie in your region. Recorded in the audit trail before it is sent.
    """
    codes = list(dict.fromkeys(body.villages))
    outside = [code for code in codes if not caller.account.covers(code)]
    if outside:
        raise RecordNotFound(f"no village {outside[0][:16]!r} in your region")
    assert f in LIST_FORMATS
    families = family_list(served.store, state.require_key(), codes, year, scoring=served.catalog.scoring)
    region = _common_region(codes)
    audit.record(
        state.db,
        caller.actor.event("download.family_list", "villages:" + ",".join(codes)[:240], region=region,
                           reason=f"{f}; {families.summary()}"),
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="sasaran-list-") as directory:
        path = write_family_list(families, FilePath(directory) / f"list.{f}", f, lang)
        content = path.read_bytes()
    return private_file(content, LIST_MEDIA[f], list_filename(families, f))


def _common_region(codes: list[str]) -> str:
    """The longest BPS region code (village, kecamatan, kabupaten, province) holding every village."""
    for width in (10, 7, 4, 2):
        if len({code[:width] for code in codes}) == 1:
            return codes[0][:width]
    return ""
