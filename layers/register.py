"""The register of families in a store: its canonical columns, its codes, and its encryption at rest.

A build with ``[sources.households]`` (P3KE, DTSEN: one row per family, by name and address) writes
the register into the restricted part of the store, ``households/`` (docs/households.md):

* ``households/values.parquet``: what scoring needs and nothing that names anyone: the family's
  village, year, members, priority counts, decile, household attributes and H3 cell. Row order
  is the register's (villages in code order).
* ``households/register.enc``: the family id, the head's NIK and name, the address and the
  coordinates, row-aligned with ``values.parquet``, as Parquet encrypted with AES-256-GCM.

The key is 32 random bytes, given base64-encoded in ``SASARAN_REGISTER_KEY`` or in a file named by
``SASARAN_REGISTER_KEY_FILE`` (or by the build config's ``key_file``); it is never written into the
store. The manifest's ``households`` entry records a key id (an HMAC of a constant under the key), so
a wrong key is told apart from a damaged file. Without the key the service serves aggregates only.

A national (partitioned) store keeps the same two files per province under
``households/province=62/``.

`read_register` gives the register back in canonical columns to whoever holds the key (the
verification module, ``sasaran households list``); every by-name read it serves must be audited by
its caller.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import os
import secrets
import struct
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from layers.errors import ConfigError, SasaranError, StoreError
from layers.schema import Text

# ------------------------------------------------------------------------------------------------
# Canonical columns
# ------------------------------------------------------------------------------------------------

Kind = Literal["id", "nik", "text", "code", "year", "decile", "count", "flag", "category", "lon", "lat"]


@dataclass(frozen=True)
class RegisterColumn:
    """One canonical column of the register."""

    name: str
    kind: Kind
    title: Text
    required: bool = False
    personal: bool = False
    """Names a person or a place finer than an H3 cell: encrypted, never published."""
    description: str = ""


def _c(name: str, kind: Kind, en: str, id_: str, required: bool = False, personal: bool = False,
       description: str = "") -> RegisterColumn:  # fmt: skip
    return RegisterColumn(name, kind, Text(en, id_), required, personal, description)


#: The canonical register columns, in the order a register is read and written (docs/schema.md,
#: "The register of families"). The verification module uses exactly these.
REGISTER_COLUMNS: dict[str, RegisterColumn] = {
    c.name: c
    for c in (
        _c("family_id", "id", "Family id", "ID keluarga", True, True,
           "The register's id of the family (P3KE/DTSEN id, or the KK number); unique per year"),
        _c("nik", "nik", "NIK of the head", "NIK kepala keluarga", True, True,
           "16 digits: province, kabupaten, kecamatan, date of birth (day + 40 for women), serial"),
        _c("head_name", "text", "Head of family", "Nama kepala keluarga", True, True),
        _c("address", "text", "Address", "Alamat", True, True),
        _c("village_code", "code", "Village code", "Kode desa", True, False,
           "Code of the family's village, as in the villages source (dots removed)"),
        _c("year", "year", "Year", "Tahun", False, False,
           "Year of the register's record; without it, the latest year of the poverty table"),
        _c("decile", "decile", "Welfare decile", "Desil kesejahteraan", True, False,
           "DTSEN/P3KE national welfare decile, 1 (poorest tenth) to 10"),
        _c("members", "count", "Members", "Jumlah anggota keluarga", True, False, "At least 1"),
        _c("elderly", "count", "Elderly members", "Anggota lansia", False, False, "Aged 60 or more"),
        _c("disabled", "count", "Members with a disability", "Anggota penyandang disabilitas"),
        _c("female_head", "flag", "Female head", "Kepala keluarga perempuan"),
        _c("floor", "category", "Floor", "Jenis lantai"),
        _c("walls", "category", "Walls", "Jenis dinding"),
        _c("water", "category", "Drinking water", "Sumber air minum"),
        _c("sanitation", "category", "Sanitation", "Fasilitas buang air besar"),
        _c("electricity", "category", "Lighting", "Sumber penerangan"),
        _c("cooking_fuel", "category", "Cooking fuel", "Bahan bakar memasak"),
        _c("head_schooling", "category", "Schooling of the head", "Pendidikan kepala keluarga"),
        _c("children_out_of_school", "count", "Children out of school", "Anak tidak sekolah",
           description="Members aged 7-18 not in school"),
        _c("health_cover", "category", "Health cover (JKN)", "Jaminan kesehatan (JKN)"),
        _c("lon", "lon", "Longitude", "Bujur", False, True, "WGS 84 degrees; with lat, or neither"),
        _c("lat", "lat", "Latitude", "Lintang", False, True, "WGS 84 degrees; with lon, or neither"),
    )
}  # fmt: skip

#: Columns that name a person or place: stored encrypted, read back only with the key.
PERSONAL_COLUMNS: tuple[str, ...] = tuple(n for n, c in REGISTER_COLUMNS.items() if c.personal)
#: Columns every register must map.
REQUIRED_COLUMNS: tuple[str, ...] = tuple(n for n, c in REGISTER_COLUMNS.items() if c.required)
#: Counts that are parts of ``members``.
MEMBER_PARTS: tuple[str, ...] = ("elderly", "disabled", "children_out_of_school")


@dataclass(frozen=True)
class Codes:
    """The canonical codes of one categorical column: names in ascending order of living standard.

    A code's number is its position plus 1 (``codes.number("tanah") == 1``): the household
    indicator spec compares these numbers with its cutoffs (docs/method.md), so the order matters
    and is fixed here.
    """

    column: str
    names: tuple[str, ...]
    labels: tuple[Text, ...]

    def number(self, name: str) -> int:
        """The code number of a canonical name."""
        return self.names.index(name) + 1

    def name_of(self, number: int) -> str:
        """The canonical name of a code number."""
        return self.names[number - 1]


def _codes(column: str, *entries: tuple[str, str, str]) -> Codes:
    return Codes(column, tuple(e[0] for e in entries), tuple(Text(e[2], e[1]) for e in entries))


#: The categorical columns' codes (name, Bahasa Indonesia, English), worst first. A register maps
#: its own values to these names with ``[sources.households.values.<column>]``.
CODES: dict[str, Codes] = {
    c.column: c
    for c in (
        _codes("floor",
               ("tanah", "Tanah", "Earth"),
               ("bambu", "Bambu", "Bamboo"),
               ("kayu_murah", "Kayu/papan kualitas rendah", "Low-quality wood or board"),
               ("kayu", "Kayu/papan kualitas tinggi", "Good wood or board"),
               ("semen", "Semen/bata merah", "Cement or brick"),
               ("keramik", "Keramik/ubin/marmer/parket", "Tiles, ceramic, marble or parquet")),
        _codes("walls",
               ("bambu", "Bambu/rumbia/anyaman", "Bamboo, thatch or woven"),
               ("kayu_murah", "Kayu kualitas rendah", "Low-quality wood"),
               ("tembok_tanpa_plester", "Tembok tanpa plester", "Unplastered masonry"),
               ("kayu", "Kayu/papan kualitas tinggi", "Good wood or board"),
               ("tembok", "Tembok diplester", "Plastered masonry")),
        _codes("water",
               ("permukaan", "Air permukaan (sungai, danau)", "Surface water (river, lake)"),
               ("tidak_terlindung", "Sumur/mata air tak terlindung", "Unprotected well or spring"),
               ("hujan", "Air hujan", "Rain water"),
               ("terlindung", "Sumur bor/terlindung, mata air terlindung",
                "Borehole, protected well or spring"),
               ("leding", "Leding", "Piped water"),
               ("kemasan", "Air kemasan/isi ulang", "Bottled or refill water")),
        _codes("sanitation",
               ("tidak_ada", "Tidak ada (BAB sembarangan)", "None (open defecation)"),
               ("tidak_layak", "Tidak layak (cubluk, tanpa tangki septik, umum)",
                "Unimproved (pit without slab, no septic tank, public)"),
               ("bersama", "Layak, bersama", "Improved, shared"),
               ("sendiri", "Layak, milik sendiri", "Improved, own")),
        _codes("electricity",
               ("tidak_ada", "Tidak ada listrik", "No electricity"),
               ("non_pln", "Listrik non-PLN (genset, surya)", "Non-PLN (generator, solar)"),
               ("pln", "Listrik PLN", "PLN grid")),
        _codes("cooking_fuel",
               ("kayu", "Kayu bakar/arang", "Firewood or charcoal"),
               ("minyak_tanah", "Minyak tanah", "Kerosene"),
               ("gas", "Gas/elpiji/biogas", "Gas, LPG or biogas"),
               ("listrik", "Listrik", "Electricity")),
        _codes("head_schooling",
               ("tidak_sekolah", "Tidak/belum pernah sekolah", "Never attended school"),
               ("tidak_tamat_sd", "Tidak tamat SD", "Primary not completed"),
               ("sd", "SD/MI/Paket A", "Primary (SD)"),
               ("smp", "SMP/MTs/Paket B", "Junior secondary (SMP)"),
               ("sma", "SMA/SMK/MA/Paket C", "Senior secondary (SMA)"),
               ("pt", "Diploma/perguruan tinggi", "Tertiary")),
        _codes("health_cover",
               ("tidak_ada", "Tidak ada anggota yang punya JKN", "No member covered"),
               ("sebagian", "Sebagian anggota", "Some members covered"),
               ("semua", "Semua anggota", "Every member covered")),
    )
}  # fmt: skip

#: Values a yes/no column (``female_head``) understands without a declared map.
FLAG_VALUES: dict[str, bool] = {
    "ya": True, "tidak": False, "y": True, "n": False, "true": True, "false": False,
    "1": True, "0": False, "perempuan": True, "laki-laki": False,
}  # fmt: skip

#: BPS/Kemendagri province codes (the first two digits of a NIK and of a village code).
PROVINCE_CODES: tuple[str, ...] = (
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33", "34", "35", "36",
    "51", "52", "53", "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76", "81", "82",
    "91", "92", "94", "95", "96", "97",
)  # fmt: skip

#: Public aggregates of fewer families than this are suppressed (null): a figure about one or two
#: families is a figure about those families.
MIN_FAMILIES = 3

# ------------------------------------------------------------------------------------------------
# The key
# ------------------------------------------------------------------------------------------------

KEY_ENV = "SASARAN_REGISTER_KEY"
KEY_FILE_ENV = "SASARAN_REGISTER_KEY_FILE"
KEY_BYTES = 32
_KEY_ID_LABEL = b"sasaran register key id v1"
_FAMILY_SALT_LABEL = b"sasaran anonymised family v1"


class RegisterLocked(SasaranError, PermissionError):
    """The register's personal part cannot be read: no key, or another key than the build's."""


@dataclass(frozen=True)
class RegisterKey:
    """An AES-256 key for the register, and where it came from (for messages; never its value)."""

    secret: bytes
    origin: str

    def __repr__(self) -> str:  # a key must not reach a log or a traceback by accident
        return f"RegisterKey(origin={self.origin!r})"

    @property
    def key_id(self) -> str:
        """16 hex digits identifying the key (an HMAC of a constant): safe to store and show."""
        return hmac.new(self.secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]

    def family_hash(self, family_ids: pd.Series) -> pd.Series:
        """The anonymised family id: a keyed hash (16 hex digits) of each family id.

        SipHash-2-4 (pandas' vectorised ``hash_array``, a keyed pseudo-random function) under a
        96-bit key derived from the register key: the same family gets the same hash in every export
        made with the same key, so analysts can follow families across years; without the key nobody
        can find the id behind a hash.
        """
        salt = base64.b64encode(hmac.new(self.secret, _FAMILY_SALT_LABEL, hashlib.sha256).digest()[:12])
        ids = family_ids.astype(str).to_numpy(object)
        hashed = pd.util.hash_array(ids, hash_key=salt.decode("ascii"), categorize=False)
        octets = hashed.astype(">u8").view(np.uint8).reshape(-1, 8)
        digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
        text = np.empty((len(octets), 16), np.uint8)
        text[:, 0::2], text[:, 1::2] = digits[octets >> 4], digits[octets & 15]
        strings = pa.array(text.view("S16").ravel()).cast(pa.string())
        return pd.Series(pd.array(strings, dtype=pd.StringDtype("pyarrow")), index=family_ids.index)


def parse_key(text: str, origin: str) -> RegisterKey:
    """A key from its base64 text; `ConfigError` naming ``origin`` (never the value) when malformed."""
    try:
        secret = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{origin}: the register key is not base64 text") from None
    if len(secret) != KEY_BYTES:
        raise ConfigError(
            f"{origin}: the register key is {len(secret)} bytes; it must be {KEY_BYTES} "
            "(make one with `sasaran households keygen --out FILE`)"
        )
    return RegisterKey(secret, origin)


def load_key(key_file: Path | None = None, environ: Mapping[str, str] | None = None) -> RegisterKey | None:
    """The register key from the environment, else from ``key_file``; None when none is given.

    Parameters
    ----------
    key_file
        A file holding the key (base64), e.g. the build config's ``key_file``; used only when
        neither ``SASARAN_REGISTER_KEY`` nor ``SASARAN_REGISTER_KEY_FILE`` is set.
    environ
        The environment (default `os.environ`).

    Returns
    -------
    RegisterKey | None
        The key, or None when no key is configured.

    Raises
    ------
    ConfigError
        When a configured key is unreadable or malformed.
    """
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV):
        return parse_key(env[KEY_ENV], KEY_ENV)
    path = Path(env[KEY_FILE_ENV]) if env.get(KEY_FILE_ENV) else key_file
    if path is None:
        return None
    origin = f"{KEY_FILE_ENV}={path}" if env.get(KEY_FILE_ENV) else f"key_file {path}"
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{origin}: cannot read the register key ({exc.__class__.__name__})") from None
    return parse_key(text, origin)


def write_key_file(path: Path) -> RegisterKey:
    """Write a new random key (base64, one line) to ``path``, readable by its owner only.

    Refuses to replace an existing file: a lost key makes a store's register unreadable.
    """
    path = Path(path)
    if path.exists():
        raise ConfigError(f"{path}: exists; a register key is never overwritten (remove it yourself)")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
    return parse_key(text, f"key_file {path}")


# ------------------------------------------------------------------------------------------------
# Storage
# ------------------------------------------------------------------------------------------------

#: The restricted directory of a store.
DIRECTORY = "households"
VALUES_FILE = "values.parquet"
PERSONAL_FILE = "register.enc"
#: How the personal part is encrypted (recorded in the manifest).
CIPHER = "AES-256-GCM"
_MAGIC = b"SASARAN-REGISTER\x01"
#: A register file: its magic, the number of chunks, (first row, rows, bytes) of each, the chunks.
_FILE_MAGIC = b"SASARAN-REGISTER-CHUNKED\x01"
_CHUNKS = struct.Struct("<I")
_CHUNK = struct.Struct("<QQQ")
#: Families per encrypted chunk of a register file.
CHUNK_ROWS = 16_384
_NONCE_BYTES = 12


def _aad(part: str) -> bytes:
    # Binding the partition into the authenticated data: one province's file cannot pass for another's.
    return _MAGIC + part.encode()


def encrypt(data: bytes, key: RegisterKey, part: str = "") -> bytes:
    """``data`` encrypted and authenticated with AES-256-GCM (magic, nonce, ciphertext and tag)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(_NONCE_BYTES)
    return _MAGIC + nonce + AESGCM(key.secret).encrypt(nonce, data, _aad(part))


def decrypt(blob: bytes, key: RegisterKey, part: str = "", file: str = PERSONAL_FILE) -> bytes:
    """The plaintext of `encrypt`; `RegisterLocked` for another key, `StoreError` for a damaged file."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not blob.startswith(_MAGIC):
        raise StoreError(f"{file}: not a Sasaran register file; rebuild the store")
    nonce = blob[len(_MAGIC) : len(_MAGIC) + _NONCE_BYTES]
    try:
        return AESGCM(key.secret).decrypt(nonce, blob[len(_MAGIC) + _NONCE_BYTES :], _aad(part))
    except InvalidTag:
        raise RegisterLocked(
            f"{file}: the register key ({key.origin}) does not open this register: another key, "
            "or a damaged file"
        ) from None


def split(register: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A canonical register as (values without anything personal, personal columns), row-aligned."""
    personal = [c for c in PERSONAL_COLUMNS if c in register.columns]
    values = register.drop(columns=personal).reset_index(drop=True)
    return values, register[personal].reset_index(drop=True)


def write_register(
    directory: Path, values: pd.DataFrame, personal: pd.DataFrame, key: RegisterKey, part: str = ""
) -> dict[str, str]:
    """Write one register (or one partition's) into ``directory``; return its files by role.

    ``directory`` is inside a store being written (`layers.store.StoreWriter.tmp`), so the swap that
    publishes the store publishes these files with it.
    """
    if len(values) != len(personal):
        raise StoreError(f"register parts differ in length ({len(values)} and {len(personal)} rows)")
    directory.mkdir(parents=True, exist_ok=True)
    values.to_parquet(directory / VALUES_FILE, index=False, compression="zstd")
    # Encrypted in chunks of rows, each its own Parquet and AES-GCM message: a list of one
    # kabupaten's families decrypts the few chunks that hold them, not the province's register.
    table = pa.Table.from_pandas(personal, preserve_index=False)

    def sealed(index: int, start: int) -> tuple[int, int, bytes]:
        sink = io.BytesIO()
        pq.write_table(table.slice(start, CHUNK_ROWS), sink, compression="zstd")
        return (
            start,
            min(CHUNK_ROWS, len(personal) - start),
            encrypt(sink.getvalue(), key, _chunk(part, index)),
        )

    # Chunks are independent, and Arrow's compression and AES-GCM release the GIL: written in threads.
    starts = range(0, max(len(personal), 1), CHUNK_ROWS)
    with ThreadPoolExecutor(max_workers=min(len(starts), os.cpu_count() or 1)) as pool:
        chunks = list(pool.map(sealed, range(len(starts)), starts))
    header = _CHUNKS.pack(len(chunks)) + b"".join(
        _CHUNK.pack(first, rows, len(blob)) for first, rows, blob in chunks
    )
    path = directory / PERSONAL_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(_FILE_MAGIC + header)
        for _, _, blob in chunks:
            handle.write(blob)
    return {"values": VALUES_FILE, "personal": PERSONAL_FILE}


def _chunk(part: str, index: int) -> str:
    # A chunk's authenticated data names its partition and place: chunks cannot be swapped or moved.
    return f"{part}#{index}"


def read_personal(path: Path, key: RegisterKey, part: str, rows: np.ndarray) -> pd.DataFrame:
    """The personal columns of the given rows (sorted positions) of one register file.

    Only the chunks holding those rows are decrypted. `RegisterLocked` for another key or a file
    altered in any way; `StoreError` for a file that is not a register.
    """
    with path.open("rb") as handle:
        if handle.read(len(_FILE_MAGIC)) != _FILE_MAGIC:
            raise StoreError(f"{path.name}: not a Sasaran register file; rebuild the store")
        (count,) = _CHUNKS.unpack(handle.read(_CHUNKS.size))
        table = [_CHUNK.unpack(handle.read(_CHUNK.size)) for _ in range(count)]
        offset = handle.tell()
        frames = []
        for index, (first, size, length) in enumerate(table):
            inside = rows[(rows >= first) & (rows < first + size)]
            if len(inside):
                handle.seek(offset)
                plain = decrypt(handle.read(length), key, _chunk(part, index), path.name)
                frame = pq.read_table(io.BytesIO(plain)).to_pandas()
                frames.append(frame.iloc[inside - first])
            offset += length
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def _entry(store: Any) -> dict[str, Any]:
    entry = store.manifest.get("households")
    if not isinstance(entry, dict):
        raise StoreError(f"{store.path}: this store has no register of families (no [sources.households])")
    return entry


def has_register(store: Any) -> bool:
    """Whether a store (a `layers.store.LayerStore`) holds a register of families."""
    return isinstance(store.manifest.get("households"), dict)


def _parts(store: Any, provinces: Sequence[str] | None = None) -> list[tuple[str, Path]]:
    """(partition key, directory) of each part of a store's register, in manifest order."""
    root = Path(store.path) / DIRECTORY
    keys = [str(p["key"]) for p in store.partitions]
    if not keys:
        return [("", root)]
    wanted = keys if provinces is None else [k for k in keys if k in set(provinces)]
    return [(key, root / f"province={key}") for key in wanted]


def read_values(
    store: Any, provinces: Sequence[str] | None = None, years: Sequence[int] | None = None
) -> pd.DataFrame:
    """The register's values (nothing personal): what scoring and aggregates read; no key needed.

    Parameters
    ----------
    store
        An open `layers.store.LayerStore` with a register.
    provinces
        For a national store, only these provinces' parts (BPS codes); default all.
    years
        Only the families of these years (in the stored order, as if the others were not there);
        default every year.
    """
    _entry(store)
    frames = [_read_years(directory / VALUES_FILE, years) for _, directory in _parts(store, provinces)]
    return pd.concat(frames, ignore_index=True) if len(frames) != 1 else frames[0]


def _read_years(path: Path, years: Sequence[int] | None) -> pd.DataFrame:
    if years is None:
        return pd.read_parquet(path)
    import pyarrow.compute as pc

    # Filtered in Arrow, before pandas: a one-off request converts only its year's families. Text
    # columns stay dictionary-encoded (as Parquet holds them) until the other years are dropped.
    schema = pq.read_schema(path)
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    table = pq.read_table(path, read_dictionary=text)
    table = table.filter(pc.is_in(table["year"], value_set=pa.array(list(years), schema.field("year").type)))
    for name in text:
        at = table.schema.get_field_index(name)
        table = table.set_column(at, schema.field(name), table[name].cast(schema.field(name).type))
    return table.to_pandas()


def check_key(store: Any, key: RegisterKey | None) -> RegisterKey:
    """``key`` if it is the one the store's register was written with, else `RegisterLocked`."""
    entry = _entry(store)
    if key is None:
        raise RegisterLocked(
            f"the register's names and addresses are encrypted; set {KEY_ENV} or {KEY_FILE_ENV} "
            "to the key the store was built with"
        )
    if entry.get("key_id") != key.key_id:
        raise RegisterLocked(
            f"the register key ({key.origin}) is not the one this store was built with "
            f"(key id {key.key_id}, the store's {entry.get('key_id')})"
        )
    return key


def read_register(
    store: Any,
    key: RegisterKey | None = None,
    *,
    provinces: Sequence[str] | None = None,
    villages: Sequence[str] | None = None,
    positions: bool = False,
) -> pd.DataFrame:
    """The register by name and address, in canonical columns (`REGISTER_COLUMNS` order).

    Whoever calls this reads personal data: record it in the audit trail (who, when, what).

    Parameters
    ----------
    store
        An open `layers.store.LayerStore` with a register.
    key
        The register key; default `load_key` (the environment).
    provinces
        For a national store, read only these provinces' parts.
    villages
        Keep only the families of these village codes.
    positions
        Add ``_row``: each family's row in `read_values` of the whole store (what scoring uses).

    Returns
    -------
    pandas.DataFrame
        One row per family and year, canonical columns, categorical columns as code names.

    Raises
    ------
    RegisterLocked
        Without the key, or with another key than the build's.

    Examples
    --------
    Without the key the names stay locked; with another key too:

    >>> read_register(store, write_key_file(tmp_path / "another.key"))
    Traceback (most recent call last):
    ...
    layers.register.RegisterLocked: the register key (key_file ...) is not the one ... built with ...
    """
    key = check_key(store, key if key is not None else load_key())
    frames = []
    wanted = None if villages is None else set(map(str, villages))
    if wanted is not None and store.partitions:  # only the parts that hold these villages
        prefixes = {code[:2] for code in wanted}
        provinces = sorted(prefixes if provinces is None else prefixes & set(provinces))
    offsets = _offsets(store)
    for part, directory in _parts(store, provinces):
        values = pd.read_parquet(directory / VALUES_FILE)
        keep = (
            np.ones(len(values), bool) if wanted is None else values["village_code"].isin(wanted).to_numpy()
        )
        if not keep.any():
            continue
        personal = read_personal(directory / PERSONAL_FILE, key, part, np.flatnonzero(keep))
        frame = pd.concat([personal, values[keep].reset_index(drop=True)], axis=1)
        if positions:
            frame["_row"] = offsets[part] + np.flatnonzero(keep)
        frames.append(frame)
    if not frames:
        out = empty_register()
        return out.assign(_row=pd.Series(dtype="int64")) if positions else out
    register = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    named = to_names(register)
    return named.assign(_row=register["_row"].to_numpy()) if positions else named


def _offsets(store: Any) -> dict[str, int]:
    """Each part's first row in `read_values` of the whole store (parts in manifest order)."""
    out, start = {}, 0
    for part, directory in _parts(store):
        out[part] = start
        start += pq.ParquetFile(directory / VALUES_FILE).metadata.num_rows
    return out


def empty_register() -> pd.DataFrame:
    """A register with no family, in canonical columns."""
    return pd.DataFrame({name: pd.Series(dtype=_DTYPES[c.kind]) for name, c in REGISTER_COLUMNS.items()})


_DTYPES: dict[str, str] = {
    "id": "string", "nik": "string", "text": "string", "code": "string", "year": "int64",
    "decile": "int64", "count": "int64", "flag": "boolean", "category": "string", "lon": "float64",
    "lat": "float64",
}  # fmt: skip


def to_names(register: pd.DataFrame) -> pd.DataFrame:
    """Canonical columns only, in order; categorical columns as code names (stored as numbers)."""
    out = register.copy()
    for column, codes in CODES.items():
        if column in out:
            numbers = out[column].to_numpy(np.float64)
            names = np.array([None, *codes.names], dtype=object)
            at = np.where(np.isfinite(numbers), numbers, 0).astype(np.int64)
            out[column] = pd.array(names[at], dtype="string")
    return out[[c for c in REGISTER_COLUMNS if c in out.columns]]


def register_markdown() -> str:
    """The register columns and codes as Markdown (docs/schema.md holds it; a test keeps them equal)."""
    lines = [
        "| column | kind | required | personal | English | Bahasa Indonesia | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in REGISTER_COLUMNS.values():
        lines.append(
            f"| `{c.name}` | {c.kind} | {'yes' if c.required else ''} | {'yes' if c.personal else ''} | "
            f"{c.title.en} | {c.title.id} | {c.description} |"
        )
    lines += ["", "| column | code | name | Bahasa Indonesia | English |", "|---|---|---|---|---|"]
    for codes in CODES.values():
        for i, (name, label) in enumerate(zip(codes.names, codes.labels, strict=True)):
            lines.append(f"| `{codes.column}` | {i + 1} | `{name}` | {label.id} | {label.en} |")
    return "\n".join(lines) + "\n"
