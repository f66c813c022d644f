"""Finding the register's personal values in a text: the scanner of the privacy tests."""

from __future__ import annotations

import re
from typing import Any

_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
_WORDS = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_RT = re.compile(r"RT \d{1,3}/RW \d{1,3}")


class Secrets:
    """Every personal value of the register, and a scan of a text for any of them."""

    def __init__(self, register: Any):
        self.niks = set(register["nik"].astype(str))
        self.names = set(register["head_name"].astype(str))
        self.addresses = set(register["address"].astype(str))
        self.families = set(register["family_id"].astype(str))
        # Names are found by their words: every run of two to four words of a text is looked up,
        # so any name of the register (whatever its words) is found wherever it stands.
        self.name_lengths = sorted({len(n.split()) for n in self.names})
        # Addresses are found by their RT/RW: each one in a text is compared with the addresses of
        # that RT/RW around it (a few hundred), never every address with the whole text.
        self.by_rt: dict[str, list[str]] = {}
        for address in self.addresses:
            for key in _RT.findall(address):
                self.by_rt.setdefault(key, []).append(address)

    def found(self, text: str) -> list[str]:
        """The personal values ``text`` contains (empty: none)."""
        hits = [n for n in _NIK.findall(text) if n in self.niks]
        words = _WORDS.findall(text)
        for size in self.name_lengths:
            hits += [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)
                     if " ".join(words[i : i + size]) in self.names]  # fmt: skip
        hits += [f for f in re.findall(r"SINT-\d{10}-\d{4}", text) if f in self.families]
        for match in _RT.finditer(text):
            window = text[max(0, match.start() - 120) : match.end() + 120]
            hits += [a for a in self.by_rt.get(match.group(0), []) if a in window]
        if "alamat sintetis" in text:  # the demo's addresses all say so
            hits.append("(alamat sintetis)")
        return hits
