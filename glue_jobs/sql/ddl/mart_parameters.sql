-- mart_parameters: tunable thresholds the mart views read (from Settings.batch at build time).
CREATE TABLE IF NOT EXISTS mart_parameters (
    name   VARCHAR(64)       NOT NULL ENCODE RAW,
    value  DOUBLE PRECISION  NOT NULL ENCODE ZSTD,
    PRIMARY KEY (name)
)
DISTSTYLE ALL
SORTKEY (name);
