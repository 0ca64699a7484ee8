"""How the batch jobs cache a DataFrame they read more than once: on local disk, never unrolled into the heap.

Spark's default for ``DataFrame.persist()`` is ``MEMORY_AND_DISK_DESER``: a block is held in the heap as objects
whose size Spark *estimates* by sampling, and a block that did not fit goes to disk and is *unrolled back into
memory* when it is read (``MemoryStore.putIteratorAsValues``, ``PartiallyUnrolledIterator``). Where a batch
outgrows the heap, that unrolling is where the raw → curated job ran out of memory at 30M events
(docs/scaling.md, "30M"), and at 3M events on a 1.2 GiB heap in the same call.

:data:`BATCH_CACHE` is ``DISK_ONLY``: a block is serialized to the executor's local disk as it is computed and read
back as a stream, one cached column batch (10,000 rows) at a time, so a cache takes no heap and the whole unified
memory pool is left to the sorts and joins. Measured on 1M events with a 4 GiB heap (docs/scaling.md, "The
batch caches"): the median heap live after a collection fell from 1,300 to 386 MiB in raw → curated, at ~9 % more
time there and ~19 % in the star build (one run each; the operating system's page cache serves most reads back).
``MEMORY_AND_DISK`` serialized was tried and failed sooner on the small heap: it builds a whole block in memory
before it knows whether the block fits.
"""

from __future__ import annotations

from pyspark import StorageLevel

#: the storage level of every cache a batch job takes (``StorageLevel(useDisk, useMemory, useOffHeap, deserialized)``)
BATCH_CACHE = StorageLevel(True, False, False, False)
