-- dim_currency_rate: the daily exchange-rate table (the rate CSV at settings.money.rates_key), one row per
-- currency and rate_date: `rate` units of reporting_currency buy one unit of `currency` on rate_date.
CREATE TABLE IF NOT EXISTS dim_currency_rate (
    currency            VARCHAR(3)     NOT NULL ENCODE ZSTD,
    rate_date           DATE           NOT NULL ENCODE RAW,
    date_key            INTEGER        NOT NULL ENCODE ZSTD,
    rate                DECIMAL(18,8)  NOT NULL ENCODE ZSTD,
    reporting_currency  VARCHAR(3)     NOT NULL ENCODE ZSTD,
    PRIMARY KEY (currency, rate_date)
)
DISTSTYLE ALL
SORTKEY (rate_date);
