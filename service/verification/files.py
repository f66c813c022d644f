"""Files of verification: a village's offline sheet (download and upload) and a kabupaten's final
list for the decree (XLSX, PDF). Every download names people: each is audited, none is cached.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from layers.export import decree
from layers.verification import sheets
from layers.verification.errors import InvalidInput
from layers.verification.final_list import final_list
from service.verification import models
from service.verification.answers import private_file, private_json
from service.verification.auth import CallerDep, VerificationDep
from service.verification.state import active_round

router = APIRouter(prefix="/verification", tags=["verification: files"])

VillageCode = Annotated[str, Path(pattern=r"^[0-9]{10}$", description="BPS village code (10 digits)")]
KabupatenCode = Annotated[str, Path(pattern=r"^[0-9]{4}$", description="BPS kabupaten code (4 digits)")]
PDF = "application/pdf"
_SHEET: dict[int | str, dict[str, Any]] = {
    200: {"content": {sheets.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
}


@router.get("/villages/{code}/sheet", summary="The village's offline sheet (XLSX; audited)", responses=_SHEET)
def sheet_download(code: VillageCode, caller: CallerDep, state: VerificationDep) -> Response:
    """An XLSX to fill offline: instructions, a status drop-down, protected id columns, each row's version."""
    content, name = sheets.write_sheet(state.db, state.require_cipher(), caller, code)
    return private_file(content, sheets.MEDIA_TYPE, name)


@router.post(
    "/villages/{code}/sheet",
    summary="Upload a filled sheet (checked whole; nothing written if any row is wrong)",
    responses={200: {"model": models.SheetResult}, 422: {"model": models.SheetProblem}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {sheets.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
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
    if not request.headers.get("content-type", "").startswith(sheets.MEDIA_TYPE):
        raise InvalidInput(f"send the sheet as the request body with Content-Type: {sheets.MEDIA_TYPE}")
    content = await request.body()
    cipher = state.require_cipher()
    validate = state.validator(await run_in_threadpool(active_round, state))
    result = await run_in_threadpool(sheets.apply_sheet, state.db, cipher, caller, code, content, validate)
    return private_json(result.as_dict())


@router.get(
    "/kabupaten/{code}/final-list",
    summary="The kabupaten's final list for the decree (XLSX or PDF; audited)",
    responses={
        200: {
            "content": {
                sheets.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
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
    made = final_list(state.db, state.require_cipher(), caller, code)
    if f == "pdf":
        return private_file(decree.write_pdf(made, lang), PDF, decree.filename(made, "pdf"))
    return private_file(decree.write_xlsx(made, lang), sheets.MEDIA_TYPE, decree.filename(made, "xlsx"))
