"""Every cache a batch job takes is on disk, never unrolled into the heap (glue_jobs.common.cache.BATCH_CACHE)."""

from __future__ import annotations

import ast
from pathlib import Path

import glue_jobs
from glue_jobs.common.cache import BATCH_CACHE

SOURCES = Path(glue_jobs.__file__).parent


def cache_calls(root: Path) -> list[tuple[str, int, str]]:
    """(file, line, call) of every ``.persist(...)`` / ``.cache()`` in the Python files under ``root`` that does not
    pass ``BATCH_CACHE``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr == "cache" and not node.args:
                found.append((str(path.relative_to(root)), node.lineno, ast.unparse(node)))
            elif node.func.attr == "persist":
                level = [ast.unparse(a) for a in node.args] + [ast.unparse(k.value) for k in node.keywords]
                if level != ["BATCH_CACHE"]:
                    found.append((str(path.relative_to(root)), node.lineno, ast.unparse(node)))
    return found


def test_every_batch_cache_is_on_disk():
    """A ``persist()`` at Spark's default level keeps deserialized blocks in the heap and unrolls a spilled one
    back into it when read: the 30M raw → curated run ran out of heap there (docs/scaling.md, "30M"). Seen failing
    on the jobs before the fix: 13 calls (3 in the curated job, 1 in the event index, 9 in the star build)."""
    assert cache_calls(SOURCES) == []


def test_a_batch_cache_takes_no_heap(spark):
    """A frame cached at ``BATCH_CACHE`` is held on disk only, serialized: none of it in memory.

    Seen failing with Spark's default level (``persist()``): ``(True, True, True)``, deserialized in memory."""
    frame = spark.range(50_000).selectExpr("id", "sha2(cast(id AS string), 256) AS cache_probe").persist(BATCH_CACHE)
    try:
        assert frame.count() == 50_000
        infos = [i for i in spark.sparkContext._jsc.sc().getRDDStorageInfo() if "cache_probe" in i.name()]
        assert len(infos) == 1
        level = infos[0].storageLevel()
        assert (level.useDisk(), level.useMemory(), level.deserialized()) == (True, False, False)
        assert infos[0].memSize() == 0 and infos[0].diskSize() > 0
    finally:
        frame.unpersist(blocking=True)


def test_cache_calls_finds_the_default_level(tmp_path):
    """The guard itself: the calls it must flag are flagged, the one it must pass is passed."""
    (tmp_path / "job.py").write_text("a = df.persist()\nb = df.cache()\nc = df.persist(StorageLevel.MEMORY_ONLY)\n"
                                     "d = df.persist(BATCH_CACHE)\ne = cache_dir.cache(1)\n")
    assert [line for _, line, _ in cache_calls(tmp_path)] == [1, 2, 3]
