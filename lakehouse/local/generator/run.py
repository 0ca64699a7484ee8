"""``generate``: simulate day by day and stream every day's events, in timestamp order, to chunk files."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from lakehouse.local.generator.catalog import build_catalog
from lakehouse.local.generator.config import MAX_CUSTOMERS, ConfigError, GeneratorConfig
from lakehouse.local.generator.events import ALL_EVENT_NAMES
from lakehouse.local.generator.population import draw_population
from lakehouse.local.generator.rates import day_rates
from lakehouse.local.generator.report import MANIFEST, GenerationReport
from lakehouse.local.generator.serialize import EventRenderer, MessageIds, iso_ms
from lakehouse.local.generator.simulation import Simulation
from lakehouse.local.generator.spec import SpecMix
from lakehouse.local.generator.truth import TRUTH_FILE, write_truth
from lakehouse.local.generator.writer import ChunkWriter

PILOT_CUSTOMERS = 2_000

Progress = Callable[[int, int], None]


def build(config: GeneratorConfig) -> tuple[Simulation, EventRenderer, MessageIds]:
    """The simulation, the renderer and the message-id stream of ``config`` (independent RNG streams)."""
    catalog_seq, population_seq, simulation_seq, id_seq, spec_seq = np.random.SeedSequence(config.seed).spawn(5)
    catalog = build_catalog(np.random.Generator(np.random.PCG64(catalog_seq)))
    pop = draw_population(np.random.Generator(np.random.PCG64(population_seq)), config.customers, config.start,
                          config.days, config.streaming_share, config.existing_share)
    spec = SpecMix(config, pop, np.random.Generator(np.random.PCG64(spec_seq)), day_rates(config.start, config.days))
    sim = Simulation(config, pop, catalog, np.random.Generator(np.random.PCG64(simulation_seq)), spec)
    return sim, EventRenderer(pop, catalog, config.start, spec), MessageIds(id_seq)


def generate(config: GeneratorConfig, out_dir: Path, on_progress: Progress | None = None) -> GenerationReport:
    """Write ``events-NNNNN.jsonl.gz`` chunks, ``truth/customers.csv.gz`` and ``manifest.json`` to ``out_dir``.

    ``on_progress(days_done, days_total)`` is called after every simulated day.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # no manifest until the run is complete
    sim, renderer, ids = build(config)
    counts = dict.fromkeys(ALL_EVENT_NAMES, 0)
    first_ts = last_ts = None
    with ChunkWriter(out_dir, config.chunk_events, config.gzip_level) as writer:
        for d in range(config.days):
            day = sim.step(d)
            for name, n in day.counts().items():
                counts[name] += n
            order = day.order()
            if len(order[2]):
                first_ts = first_ts if first_ts is not None else int(order[2][0])
                last_ts = int(order[2][-1])
            for calls in renderer.calls(day, order, ids):
                writer.write(calls)
            if on_progress:
                on_progress(d + 1, config.days)
    write_truth(out_dir, sim.pop, sim.state, config.start, config.days, sim.spec)
    stamps = iso_ms(np.array([first_ts, last_ts], dtype=np.int64)).tolist() if first_ts is not None else [None, None]
    report = GenerationReport(
        out_dir=out_dir, source="generator", config=config.to_dict(), customers=config.customers, counts=counts,
        files=writer.files, first_timestamp=stamps[0], last_timestamp=stamps[1], truth_file=TRUTH_FILE.as_posix(),
        extra={"spec": {"numeric_user_ids": len(sim.spec.numeric), "b2b_customers": int((sim.spec.company >= 0).sum()),
                        "app_users": int(sim.spec.app_user.sum()), **dict(sorted(sim.spec.tally.items()))}},
    )
    report.write_manifest()
    report.elapsed_s = time.perf_counter() - started
    return report


def events_per_customer(config: GeneratorConfig, pilot_customers: int = PILOT_CUSTOMERS) -> float:
    """Events per customer of ``config``, measured on a pilot simulation (counts only, nothing written)."""
    sim, _, _ = build(replace(config, customers=pilot_customers))
    total = sum(len(sim.step(d)) for d in range(config.days))
    return total / pilot_customers


def customers_for_events(events: int, config: GeneratorConfig) -> int:
    """How many customers make about ``events`` events with the other settings of ``config``."""
    if events < 1:
        raise ConfigError(f"events must be at least 1 (got {events:,})")
    customers = max(1, round(events / events_per_customer(config)))
    if customers > MAX_CUSTOMERS:
        raise ConfigError(f"{events:,} events need about {customers:,} customers over {config.days} days; "
                          f"the maximum is {MAX_CUSTOMERS:,}: simulate more days")
    return customers
