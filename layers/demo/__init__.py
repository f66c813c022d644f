"""The synthetic demo: a province and a country written as ordinary source files (level 1).

`province` (`sasaran demo`) and `country` (`sasaran demo --country`), each with its geography
(`_province_geo`, `_country_geo`). They write source files only; a build reads them like a user's.
"""

from layers._lazy import lazy_exports

__all__ = ["build_country", "write_demo"]
__getattr__ = lazy_exports(
    __name__, {"write_demo": "layers.demo.province", "build_country": "layers.demo.country"}
)
