"""Generate the committed Power BI project: ``python -m dashboards.powerbi.build [--out DIR] [--check]``.

Reads the warehouse DDL (:mod:`.ddl`) and the metrics layer, builds the semantic model (:mod:`.semantic`) and
writes ``dashboards/powerbi/project/`` (:func:`project_files`). Files the generator no longer makes are removed;
Power BI Desktop's own ``.pbi/`` folders (local settings, data cache) are left alone. ``--check`` writes nothing
and exits 1 naming the files that differ from a fresh generation.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from dashboards.powerbi import project, tmdl
from dashboards.powerbi.ddl import DDL_DIRS, read_tables
from dashboards.powerbi.semantic import build_model
from lakehouse.core.config import RedshiftSettings
from lakehouse.core.metrics.catalog import MEASURES
from lakehouse.core.metrics.model import Measure

PROJECT_DIR = Path(__file__).resolve().parent / "project"


def project_files(ddl_dirs: Iterable[Path] = DDL_DIRS, measures: Iterable[Measure] = MEASURES,
                  settings: RedshiftSettings | None = None) -> dict[str, str]:
    """Every file of the project, by ``/``-separated path relative to the project folder.

    ``settings`` defaults to :class:`RedshiftSettings`' defaults (never the environment), so the committed
    project does not depend on who generated it. Raises :class:`.ddl.DdlError` or :class:`.semantic.ModelError`
    when the DDL and the metrics layer disagree.
    """
    model = build_model(read_tables(ddl_dirs), measures)
    name = project.NAME
    files = {f"{name}.pbip": project.pbip(), f"{name}.pbids": project.pbids(settings), ".gitignore": project.GITIGNORE,
             f"{name}.SemanticModel/definition.pbism": project.pbism()}
    for path, text in tmdl.definition_files(model, name, settings).items():
        files[f"{name}.SemanticModel/definition/{path}"] = text
    for path, text in project.report_files().items():
        files[f"{name}.Report/{path}"] = text
    return files


def _existing(out: Path) -> set[str]:
    if not out.exists():
        return set()
    return {p.relative_to(out).as_posix() for p in out.rglob("*")
            if p.is_file() and ".pbi" not in p.relative_to(out).parts}


def differences(files: dict[str, str], out: Path) -> list[str]:
    """Paths under ``out`` that are missing, stale (not generated) or differ from ``files``."""
    existing = _existing(out)
    changed = [p for p, text in files.items()
               if p not in existing or (out / p).read_bytes() != text.encode("utf-8")]
    return sorted(changed + sorted(existing - set(files)))


def write(files: dict[str, str], out: Path) -> list[str]:
    """Write ``files`` under ``out`` (LF line ends, UTF-8 without BOM), remove stale ones; returns what changed."""
    changed = differences(files, out)
    for path in sorted(_existing(out) - set(files)):
        (out / path).unlink()
    for path, text in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    return changed


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code (1: ``--check`` found differences)."""
    parser = argparse.ArgumentParser(prog="python -m dashboards.powerbi.build", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_DIR, help="project folder (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="only report files that differ; exit 1 if any")
    args = parser.parse_args(argv)
    files = project_files()
    if args.check:
        diff = differences(files, args.out)
        for path in diff:
            print(f"differs: {path}")
        if diff:
            print("run `python -m dashboards.powerbi.build` to regenerate the Power BI project")
        return 1 if diff else 0
    changed = write(files, args.out)
    print(f"{len(files)} files in {args.out} ({len(changed)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
