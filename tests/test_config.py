import pytest

from layers.config import DEFAULT_ROAD_SPEEDS_KMH, load_config
from layers.errors import ConfigError

MINIMAL = """
[sources.villages]
file = "v.gpkg"
[sources.poverty]
file = "p.csv"
"""


def test_speeds_given_in_a_config_are_merged_over_the_defaults(tmp_path):
    path = tmp_path / "sasaran.toml"
    path.write_text(MINIMAL + "[access.road_speeds_kmh]\ntrunk = 70\nferry_ramp = 3\n")
    speeds = load_config(path).access.road_speeds_kmh
    assert speeds["trunk"] == 70 and speeds["ferry_ramp"] == 3
    assert speeds["track"] == DEFAULT_ROAD_SPEEDS_KMH["track"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (
            "[access.road_speeds_kmh]\ntrunk = 0\n",
            "entry 'access.road_speeds_kmh': Value error, speeds must be positive",
        ),
        ("[access]\nconnectivity = 4\n", "entry 'access.connectivity'"),
        ("h3_resolution = 12\n", "entry 'h3_resolution'"),
        ("[sources.schools]\nfile = 's.gpkg'\nlevle = 'bentuk'\n", "entry 'sources.schools.levle'"),
    ],
)
def test_bad_entries_name_the_file_and_the_entry(tmp_path, extra, needle):
    path = tmp_path / "sasaran.toml"
    path.write_text(extra + MINIMAL if not extra.startswith("[") else MINIMAL + extra)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}: ")
    assert needle in str(error.value)


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    path = tmp_path / "sub" / "sasaran.toml"
    path.parent.mkdir()
    path.write_text(MINIMAL)
    config = load_config(path)
    assert config.resolve(config.sources.villages.file) == tmp_path / "sub" / "v.gpkg"
