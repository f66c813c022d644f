"""``build(config, store_dir)``: source files → validated inputs → H3 layers → layer store.

Stages run in order with a progress bar each and are timed for the manifest. Every input is read
and validated before anything is written; the store is written to a temporary directory and
swapped into place only when complete (`layers.store.writing_store`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from layers.config import BuildConfig
from layers.errors import ConfigError
from layers.geo.units import hierarchy
from layers.pipeline import change_gate, households
from layers.pipeline.change_gate import headlines_of
from layers.pipeline.compute import (
    BuildResult,
    Computed,
    Inputs,
    Stages,
    compute,
    manifest_of,
    read_inputs,
    write_rasters,
)
from layers.pipeline.households import register_key
from layers.register import CIPHER
from layers.store import build_lock, writing_store

if TYPE_CHECKING:
    from layers.verification.snapshots import VerifiedRegister

log = logging.getLogger(__name__)

__all__ = ["BuildResult", "Computed", "Inputs", "build", "compute", "read_inputs"]


def build(
    config: BuildConfig,
    store_dir: str | Path,
    progress: bool = True,
    accept_changes: bool = False,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    only: str | None = None,
    verified: VerifiedRegister | None = None,
) -> BuildResult:
    """Build the layer store a config describes.

    Parameters
    ----------
    config
        A validated build config (`layers.config.load_config`).
    store_dir
        Where the store goes; an existing store there is replaced only when the build succeeds.
    progress
        Show a progress bar per stage.
    accept_changes
        Replace an existing store even when the headline figures move beyond the config's
        ``[change_gate]`` tolerances (`layers.pipeline.change_gate`).
    workers, scheduler, only
        A national build (villages of more than one province) runs one partition per province on
        Dask: ``workers`` processes of a local cluster (default: one per CPU), or the cluster at
        ``scheduler`` (``tcp://HOST:PORT``); ``only`` rebuilds one province of an existing
        partitioned store (`layers.pipeline.national`). Any of them makes even a one-province build
        partitioned.
    verified
        The register's families of the verification round's year from the verification database
        (``sasaran build --verified``, `layers.verification.snapshots.verified_register`); the
        manifest records the snapshot under ``households.verification``. Province builds only.

    Returns
    -------
    BuildResult
        Where the store is, layer counts, seconds per stage and the province's scores per year.

    Raises
    ------
    ChangeRefused
        When an existing store would change beyond tolerance; it is kept as it was.
    """
    # Imported here: a province build never needs the national machinery (pyproj, Dask).
    from layers.pipeline import national

    if workers is not None or scheduler is not None or only is not None or national.is_national(config):
        if verified is not None:
            raise ConfigError("--verified builds one province; a national build reads its register files")
        return national.build_partitioned(
            config,
            Path(store_dir),
            progress=progress,
            accept_changes=accept_changes,
            workers=workers,
            scheduler=scheduler,
            only=only,
        )
    stages = Stages(progress)
    key = register_key(config)  # before any work: a register without a key is refused at once
    # Locked from the start, so a second build of this store fails at once rather than at its commit.
    with build_lock(store_dir), stages.progress:
        with stages.stage("read"):
            inputs = read_inputs(config, verified)
            units = hierarchy(inputs.villages, config.sources.villages.file.name)
        computed = compute(config, inputs, units, stages)
        layers, scored, years = computed.layers, computed.scored, computed.years
        headlines = headlines_of(layers["villages"], layers["village_years"])
        comparison = change_gate.check(Path(store_dir), headlines, config.change_gate, accept_changes)
        with writing_store(store_dir) as writer:
            with stages.stage("write"):
                for name, table in layers.items():
                    writer.write_layer(name, table)
                rasters = write_rasters(writer.path_for, computed.surfaces, config)
                manifest = manifest_of(config, computed, inputs.provenance, rasters, dict(stages.seconds))
                if computed.households is not None and key is not None:
                    households.write(writer.tmp, computed.households, key)
                    manifest["households"] |= {"key_id": key.key_id, "cipher": CIPHER}
                    if verified is not None:
                        manifest["households"]["verification"] = verified.entry
            # The manifest records every stage, "write" included; the swap after it is a rename.
            manifest["build_seconds"] = dict(stages.seconds)  # with "write", which ended just now
            writer.commit(manifest)
    counts = {name: len(table) for name, table in layers.items()}
    result = BuildResult(
        Path(store_dir),
        dict(stages.seconds),
        counts,
        config.synthetic,
        {y: scored[y].whole for y in years},
        comparison,
        {y: whole for y in years if (whole := scored[y].households) is not None},
    )
    log.info("built %s in %.1f s", store_dir, sum(stages.seconds.values()))
    return result
