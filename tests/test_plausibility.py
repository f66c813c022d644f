"""Issue 23, findings 1 and 2: numbers in the wrong unit and misplaced facilities are refused,
through the real ``sasaran build`` (exit 2, the file, the field and the count named), on a first
build with no store to compare with as on a rebuild (the old store then kept byte for byte).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from layers.errors import SourceError
from layers.sources import check_places
from tests.conftest import SHARED_DATA, snapshot


def build(config: Path, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "layers.cli", "build", str(config), "--store", str(store), "--quiet"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def edit_poverty(sources: Path, change) -> None:
    path = sources / "poverty.csv"
    change(pd.read_csv(path, dtype=str)).to_csv(path, index=False)


def map_rate(sources: Path, column: str = "p0", keep_poor: bool = True) -> None:
    config = sources / "sasaran.toml"
    text = config.read_text()
    line = 'poor_population = "penduduk_miskin"'
    new = (line + "\n" if keep_poor else "") + f'poverty_rate = "{column}"'
    config.write_text(text.replace(line, new))


def rate_of(frame: pd.DataFrame) -> pd.Series:
    return 100 * frame["penduduk_miskin"].astype(float) / frame["jumlah_penduduk"].astype(float)


def refused(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr
    return done.stderr


# ---------------------------------------------------------------------------------- units (finding 1)


def test_a_rate_given_as_a_fraction_is_refused_on_a_first_build(sources: Path, tmp_path: Path) -> None:
    """0.052 where 5.2 % is meant: 0 villages above the 9.03 % cutoff, exit 0, before issue 23."""
    edit_poverty(sources, lambda f: f.assign(p0=(rate_of(f) / 100).round(4).astype(str)))
    map_rate(sources, keep_poor=False)
    store = tmp_path / "first"
    refused(build(sources / "sasaran.toml", store), "poverty.csv", "field 'p0'", "fractions", "by 100")
    assert not store.exists()  # no store to compare with, and the checks ran all the same


def test_poor_people_holding_the_rate_are_refused_and_the_store_kept(sources: Path, old_store: Path) -> None:
    """A clerk pasted the rate into the poor-people column: 287,492 poor became 23,809, exit 0."""
    before = snapshot(old_store)
    edit_poverty(sources, lambda f: f.assign(penduduk_miskin=rate_of(f).round().astype(int).astype(str)))
    err = refused(build(sources / "sasaran.toml", old_store), "field 'penduduk_miskin'", "percentage")
    assert "does not grow with jumlah_penduduk" in err
    assert snapshot(old_store) == before


def test_a_poor_count_equal_to_the_rounded_rate_is_refused(sources: Path, tmp_path: Path) -> None:
    def pasted(frame: pd.DataFrame) -> pd.DataFrame:
        rate = rate_of(frame)
        return frame.assign(
            p0=rate.round(2).astype(str), penduduk_miskin=rate.round().astype(int).astype(str)
        )

    edit_poverty(sources, pasted)
    map_rate(sources)
    refused(build(sources / "sasaran.toml", tmp_path / "s"), "equals the rounded p0", "not people")


def test_counts_and_a_rate_that_disagree_are_refused(sources: Path, tmp_path: Path) -> None:
    """Both columns given, in two units: the build would silently keep only the counts' rate."""
    edit_poverty(sources, lambda f: f.assign(p0=(3 * rate_of(f)).clip(upper=100).round(2).astype(str)))
    map_rate(sources)
    refused(build(sources / "sasaran.toml", tmp_path / "s"), "disagrees with p0", "row 1:")


def test_a_rate_that_agrees_with_the_counts_builds(sources: Path, tmp_path: Path) -> None:
    edit_poverty(sources, lambda f: f.assign(p0=rate_of(f).round(2).astype(str)))
    map_rate(sources)
    done = build(sources / "sasaran.toml", tmp_path / "s")
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------------------ places (finding 2)


def edit_points(sources: Path, name: str, change) -> None:
    path = sources / f"{name}.gpkg"
    frame = pyogrio.read_dataframe(path, layer=name)
    frame = change(frame)
    path.unlink()
    pyogrio.write_dataframe(frame, path, layer=name)


def all_on_one_point(frame):
    return frame.set_geometry([shapely.Point(frame.geometry.x.mean(), frame.geometry.y.mean())] * len(frame))


def at_zero_but_five(frame):
    geoms = list(frame.geometry.values)
    geoms[5:] = [shapely.Point(0, 0)] * (len(geoms) - 5)
    return frame.set_geometry(geoms)


def appended_to_itself(frame):
    return pd.concat([frame, frame], ignore_index=True)


def shifted_most(frame):
    geoms = list(frame.geometry.values)
    cut = int(0.6 * len(geoms))
    geoms[:cut] = shapely.transform(np.array(geoms[:cut]), lambda xy: xy + [0, 5.0])  # 5° north
    return frame.set_geometry(geoms)


PLACES = {
    "health on one point": ("health_facilities", all_on_one_point, "one_point", "share one point"),
    "schools at (0, 0)": ("schools", at_zero_but_five, "at_zero", "lie at (0°, 0°)"),
    "schools appended to themselves": ("schools", appended_to_itself, "duplicated", "repeat an earlier"),
    "health mostly elsewhere": ("health_facilities", shifted_most, "far", "beyond the villages' extent"),
}


@pytest.mark.parametrize("case", sorted(PLACES))
def test_misplaced_facilities_are_refused_unless_declared(case: str, sources: Path, tmp_path: Path) -> None:
    name, change, check, says = PLACES[case]
    edit_points(sources, name, change)
    store = tmp_path / "store"
    err = refused(build(sources / "sasaran.toml", store), f"{name}.gpkg", says, f"accept.{check}")
    assert not store.exists()
    # A real case is declared, with its reason: the build goes through and the manifest says so.
    config = sources / "sasaran.toml"
    section = f"[sources.{name}]"
    config.write_text(config.read_text().replace(section, f'{section}\naccept = {{ {check} = "a test" }}'))
    done = build(config, store)
    if done.returncode != 0:  # one misplacement can trip a second check: declare it too
        pytest.fail(f"{case}: still refused after accept.{check}:\n{done.stderr}\n(first: {err})")
    provenance = {p["name"]: p for p in json.loads((store / "manifest.json").read_text())["sources"]}
    assert provenance[name]["accepted"] == {check: "a test"}


def test_real_schools_pass_as_places() -> None:
    """Kemendikbud's 3,770 schools of Kalimantan Tengah: 65 pairs share a point, none is stacked."""
    path = SHARED_DATA / "kalteng_schools_kemdikbud_2019.gpkg"
    if not path.exists():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    schools = pyogrio.read_dataframe(path, layer="schools")
    lonlat = shapely.get_coordinates(schools.geometry.values)
    check_places(
        lonlat, schools["bentuk"].to_numpy(), path.name, "sources.schools", {}, (109.7, -4.6, 116.9, 1.8)
    )
    # The same file with its points swapped to (lat, lon) is far from Kalimantan Tengah.
    with pytest.raises(SourceError, match="beyond the villages' extent"):
        check_places(lonlat[:, ::-1], None, path.name, "sources.schools", {}, (109.7, -4.6, 116.9, 1.8))


# ------------------------------------------------------------------------- smaller findings (10)


def test_villages_with_swapped_axes_are_called_swapped(sources: Path, tmp_path: Path) -> None:
    """A GeoJSON written (lat, lon) was refused as "not degrees: a projected CRS?"."""
    frame = pyogrio.read_dataframe(sources / "villages.gpkg", layer="villages")
    frame = frame.set_geometry(shapely.transform(frame.geometry.values, lambda xy: xy[:, ::-1]))
    pyogrio.write_dataframe(frame, sources / "villages.geojson")
    config = sources / "sasaran.toml"
    config.write_text(
        config.read_text().replace('file = "villages.gpkg"\nlayer = "villages"', 'file = "villages.geojson"')
    )
    refused(build(config, tmp_path / "s"), "villages.geojson", "The axes are swapped")


def test_codes_excel_wrote_in_scientific_notation_get_the_hint(sources: Path, tmp_path: Path) -> None:
    edit_poverty(sources, lambda f: f.assign(kode_desa=f["kode_desa"].where(f.index != 4, "6.20101E+09")))
    refused(
        build(sources / "sasaran.toml", tmp_path / "s"),
        "row 5, field 'kode_desa'",
        "scientific notation",
        "as Text",
    )


def test_raster_errors_name_the_file_not_its_directories(sources: Path, tmp_path: Path) -> None:
    (sources / "population.tif").write_text("not a raster")
    err = refused(build(sources / "sasaran.toml", tmp_path / "s"), "population.tif", "cannot read raster")
    assert str(sources) not in err
    (sources / "population.tif").unlink()
    err = refused(build(sources / "sasaran.toml", tmp_path / "s"), "population.tif", "file not found")
    assert str(sources) not in err
