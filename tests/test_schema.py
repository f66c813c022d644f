"""The schema is the one place facts live: every stored column has a field entry, and the docs'
field dictionary is the schema's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from layers.schema import FIELDS, LAYERS, field_for, fields_markdown, level
from layers.store import LayerStore

ROOT = Path(__file__).resolve().parents[1]


def test_every_stored_column_is_in_the_field_dictionary(store: LayerStore) -> None:
    missing = {
        name: [
            c
            for c in store.layer(name).columns
            if c != "geometry" and field_for(c, store.facility_kinds) is None
        ]
        for name in store.names
    }
    assert not {k: v for k, v in missing.items() if v}, "add these to layers/schema.FIELDS"


def test_docs_field_dictionary_is_the_schemas() -> None:
    text = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    block = text.split("<!-- fields:start -->\n", 1)[1].split("<!-- fields:end -->", 1)[0]
    assert block == fields_markdown()
    assert len(block.splitlines()) == len(FIELDS) + 4


def test_hexagons_carry_their_village_values(store: LayerStore) -> None:
    hexes = store.layer("hexagons").set_index("village_code")
    years = store.layer("village_years")
    latest = years[years["year"] == store.manifest["default_year"]].set_index("village_code")
    for column in LAYERS["hexagons"].village_values:
        expected = latest[column].reindex(hexes.index).to_numpy(float)
        np.testing.assert_allclose(hexes[column].to_numpy(float), expected, equal_nan=True)
    # elderly_share, added by one schema entry plus its computation (indicators.YEARLY_SHARES).
    assert hexes["elderly_share"].between(0, 1).all()
    people = latest["population"].to_numpy(float)
    np.testing.assert_allclose(latest["elderly_share"], latest["elderly"] / people)


def test_levels_accept_both_spellings() -> None:
    assert level("villages") is level("village")
    with pytest.raises(KeyError):
        level("ward")
