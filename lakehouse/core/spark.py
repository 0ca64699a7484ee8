"""The local Spark session: one per process, configured for a 2-core laptop.

On Glue/EMR the platform provides the session; jobs take a ``SparkSession`` argument and never build one.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
from pathlib import Path

_lock = threading.Lock()
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")


def local_spark(app_name: str = "customer-lakehouse", shuffle_partitions: int = 4, cores: int = 2,
                initial_shuffle_partitions: int = 64):
    """Get (or create) the process-wide local SparkSession.

    Shuffles: a batch query's shuffle starts with ``initial_shuffle_partitions`` partitions, which adaptive query
    execution coalesces to what the data fills (``spark.sql.adaptive.coalescePartitions.initialPartitionNum``;
    partitions of at least 1 MB, as many as the cores at least): a test's few thousand rows still run in a
    task or two, and 30M events are cut into tasks that sort a bounded number of rows — with a fixed
    ``shuffle_partitions`` of 4, every shuffle (the dedup's, the sessions', the star's joins and windows) gave a
    task a quarter of the data whatever its size: the out-of-heap kind seen at 30M events (docs/scaling.md,
    "30M"). ``shuffle_partitions`` is still what a query that adaptive execution does not plan uses: a streaming
    query's keyed state (its partitions, fixed when a checkpoint starts).

    ``PYSPARK_PYTHON`` and ``SPARK_LOCAL_IP`` are set first: without them Python workers fail to
    connect back on machines with several interfaces. The SIGINT handler in place before is put back: a new
    SparkContext installs its own (cancel every job, raise ``KeyboardInterrupt``), which replaced a command's
    stop handling (:mod:`lakehouse.local.signals`) for Ctrl-C only — the command then died in py4j's tracebacks
    instead of stopping what it started and saying so.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # read once, when the JVM starts: quiet driver logs unless the caller configured the launch itself
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--driver-java-options "
                          + shlex.quote(f"-Dlog4j2.configurationFile=file:{LOG_CONFIG}") + " pyspark-shell")
    from pyspark.sql import SparkSession

    main = threading.current_thread() is threading.main_thread()
    sigint = signal.getsignal(signal.SIGINT) if main else None
    with _lock:
        session = (
            SparkSession.builder.appName(app_name)
            .master(f"local[{cores}]")
            .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.parquet.compression.codec", "zstd")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
            .config("spark.driver.memory", os.environ.get("LAKEHOUSE_SPARK_DRIVER_MEMORY", "2g"))
            .config("spark.sql.adaptive.enabled", "true")
            .config("spark.sql.adaptive.coalescePartitions.initialPartitionNum", str(initial_shuffle_partitions))
            .config("spark.python.worker.reuse", "true")
            .getOrCreate()
        )
        if main and sigint is not None:
            signal.signal(signal.SIGINT, sigint)
        session.sparkContext.setLogLevel(os.environ.get("LAKEHOUSE_SPARK_LOG_LEVEL", "ERROR"))
        return session
