"""raw -> curated: parse and validate raw records, deduplicate, write typed ZSTD Parquet tables."""
