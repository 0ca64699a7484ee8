-- dim_support_issue: every issue type x severity of the event contract.
CREATE TABLE IF NOT EXISTS dim_support_issue (
    issue_key      BIGINT       NOT NULL ENCODE RAW,
    issue_type     VARCHAR(32)  NOT NULL ENCODE ZSTD,
    severity       VARCHAR(16)  NOT NULL ENCODE ZSTD,
    severity_rank  INTEGER      NOT NULL ENCODE ZSTD,
    PRIMARY KEY (issue_key)
)
DISTSTYLE ALL
SORTKEY (issue_key);
