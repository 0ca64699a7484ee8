-- etl_load_state: which star build each warehouse target has loaded (written by the loader, not COPY).
CREATE TABLE IF NOT EXISTS etl_load_state (
    target      VARCHAR(32)   NOT NULL ENCODE RAW,
    version     VARCHAR(64)   NOT NULL ENCODE ZSTD,
    loaded_at   TIMESTAMP     NOT NULL ENCODE ZSTD,
    PRIMARY KEY (target)
)
DISTSTYLE ALL;
