"""The QuickSight analysis/dashboard ``Definition``, generated from the metrics layer (no hand-written JSON).

One sheet per page of the local dashboard (:data:`PAGES`): a KPI visual per measure (trend by month on
``full_date``; snapshot measures use their ``__by_month`` field so each month shows its last snapshot) and bar
charts of a measure by a catalogue dimension. Two analysis-wide filters apply to every sheet and every dataset
that has the column (``CrossDataset: ALL_DATASETS``): a date range on ``full_date`` and a geography list on
``geography``; each sheet carries their controls. The shapes follow the CloudFormation resource schema of
``AWS::QuickSight::Analysis`` (``AnalysisDefinition``), which cfn-lint validates on the synthesized template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lakehouse.core.metrics import quicksight as qs
from lakehouse.core.metrics.catalog import BY_NAME, DIMENSION_BY_NAME, base_measures
from lakehouse.core.metrics.model import Format

DATE_FILTER = "date-range"
GEOGRAPHY_FILTER = "geography"
GRID_COLUMNS = 36
KPI_SPAN = (6, 5)  # columns, rows
BAR_SPAN = (18, 10)


@dataclass(frozen=True)
class Page:
    """A sheet: KPI measures, then (measure, dimension) bar charts."""

    sheet_id: str
    title: str
    kpis: tuple[str, ...]
    bars: tuple[tuple[str, str], ...] = ()


PAGES: tuple[Page, ...] = (
    Page("overview", "Overview", tuple(m.name for m in BY_NAME.values() if "overview" in m.tags)),
    Page(
        "churn",
        "Churn",
        ("customers", "churned_customers", "churn_rate"),
        (("churn_rate", "geography"), ("churn_rate", "age_band")),
    ),
    Page(
        "value",
        "Value",
        ("total_clv", "average_clv", "customers"),
        (("average_clv", "rfm_segment"), ("customers", "rfm_segment")),
    ),
    Page(
        "engagement",
        "Engagement",
        ("dau", "conversion_rate", "active_customers", "sessions", "watch_hours"),
        (("watch_hours", "category"), ("dau", "geography")),
    ),
    Page(
        "products",
        "Products",
        ("orders", "revenue", "aov", "units_sold", "product_revenue", "purchasers"),
        (("product_revenue", "category"), ("units_sold", "category")),
    ),
    Page(
        "offers-support",
        "Offers and support",
        ("offers", "accepted_offers", "acceptance_rate", "tickets", "avg_resolution_hours", "avg_satisfaction"),
        (("acceptance_rate", "offer_type"), ("avg_resolution_hours", "issue_type"), ("tickets", "severity")),
    ),
    Page(
        "models",
        "Models",
        ("scored_customers", "average_churn_probability", "average_predicted_clv", "high_risk_customers"),
        (("scored_customers", "risk_band"), ("average_churn_probability", "geography")),
    ),
)


def dimension_column(dimension: str) -> str:
    """The dataset column of a catalogue dimension (its expression without the alias: ``c.geography`` -> geography)."""
    return DIMENSION_BY_NAME[dimension].expression.split(".", 1)[1]


def _column(dataset: str, name: str) -> dict[str, str]:
    return {"DataSetIdentifier": dataset, "ColumnName": name}


def _number_format(measure: str) -> dict[str, Any]:
    fmt = BY_NAME[measure].format
    if fmt is Format.PERCENT:
        return {"PercentageDisplayFormatConfiguration": {"DecimalPlacesConfiguration": {"DecimalPlaces": 1}}}
    places = 0 if fmt is Format.INTEGER else 2
    return {"NumberDisplayFormatConfiguration": {"DecimalPlacesConfiguration": {"DecimalPlaces": places}}}


def _measure(field_id: str, measure: str, by_month: bool = False) -> dict[str, Any]:
    calc = qs.measure_field(measure, by_month=by_month)
    return {
        "NumericalMeasureField": {
            "FieldId": field_id,
            "Column": _column(calc.dataset, calc.name),
            "FormatConfiguration": {"FormatConfiguration": _number_format(measure)},
        }
    }


def _title(text: str) -> dict[str, Any]:
    return {"Visibility": "VISIBLE", "FormatText": {"PlainText": text}}


def kpi_visual(sheet: str, measure: str) -> dict[str, Any]:
    """A KPI of ``measure`` with its monthly trend (the primary value is the latest month in the date range); a
    measure of a source that is not dated (the scoring runs) has no calendar, so no trend: its latest run."""
    dated = all(b.source is None or b.source.dated for b in base_measures(measure))
    calc = qs.measure_field(measure, by_month=dated)
    visual_id = f"{sheet}-kpi-{measure}".replace("_", "-")
    wells: dict[str, Any] = {"Values": [_measure(f"{visual_id}-value", measure, by_month=dated)]}
    if dated:
        wells["TrendGroups"] = [{"DateDimensionField": {"FieldId": f"{visual_id}-month",
                                                        "Column": _column(calc.dataset, qs.DATE_COLUMN),
                                                        "DateGranularity": "MONTH"}}]
    options: dict[str, Any] = {"Sparkline": {"Visibility": "VISIBLE", "Type": "AREA"}} if dated else {}
    return {
        "KPIVisual": {
            "VisualId": visual_id,
            "Title": _title(BY_NAME[measure].label),
            "Subtitle": {"Visibility": "VISIBLE", "FormatText": {"PlainText": BY_NAME[measure].unit}},
            "ChartConfiguration": {"FieldWells": wells, **({"KPIOptions": options} if options else {})},
        }
    }


def bar_visual(sheet: str, measure: str, dimension: str) -> dict[str, Any]:
    """A bar chart of ``measure`` by a catalogue dimension, on the measure's dataset."""
    calc = qs.measure_field(measure)
    visual_id = f"{sheet}-bar-{measure}-by-{dimension}".replace("_", "-")
    return {
        "BarChartVisual": {
            "VisualId": visual_id,
            "Title": _title(f"{BY_NAME[measure].label} by {DIMENSION_BY_NAME[dimension].label.lower()}"),
            "ChartConfiguration": {
                "FieldWells": {
                    "BarChartAggregatedFieldWells": {
                        "Category": [
                            {
                                "CategoricalDimensionField": {
                                    "FieldId": f"{visual_id}-category",
                                    "Column": _column(calc.dataset, dimension_column(dimension)),
                                }
                            }
                        ],
                        "Values": [_measure(f"{visual_id}-value", measure)],
                    }
                },
                "Orientation": "HORIZONTAL",
            },
        }
    }


def _layout(visuals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    elements = []
    column = row = 0
    row_height = 0
    for visual in visuals:
        ((kind, body),) = visual.items()
        width, height = KPI_SPAN if kind == "KPIVisual" else BAR_SPAN
        if column + width > GRID_COLUMNS:
            column, row, row_height = 0, row + row_height, 0
        elements.append(
            {
                "ElementId": body["VisualId"],
                "ElementType": "VISUAL",
                "ColumnIndex": column,
                "ColumnSpan": width,
                "RowIndex": row,
                "RowSpan": height,
            }
        )
        column += width
        row_height = max(row_height, height)
    return [{"Configuration": {"GridLayout": {"Elements": elements}}}]


def sheet(page: Page) -> dict[str, Any]:
    """One sheet of the analysis: the page's visuals, a grid layout, the date-range and geography controls."""
    visuals = [kpi_visual(page.sheet_id, m) for m in page.kpis]
    visuals += [bar_visual(page.sheet_id, m, d) for m, d in page.bars]
    return {
        "SheetId": page.sheet_id,
        "Name": page.title,
        "Title": page.title,
        "ContentType": "INTERACTIVE",
        "Visuals": visuals,
        "Layouts": _layout(visuals),
        "FilterControls": [
            {
                "DateTimePicker": {
                    "FilterControlId": f"{page.sheet_id}-date-range",
                    "SourceFilterId": DATE_FILTER,
                    "Title": "Date range",
                    "Type": "DATE_RANGE",
                }
            },
            {
                "Dropdown": {
                    "FilterControlId": f"{page.sheet_id}-geography",
                    "SourceFilterId": GEOGRAPHY_FILTER,
                    "Title": "Geography",
                    "Type": "MULTI_SELECT",
                }
            },
        ],
    }


def filter_groups(anchor: str) -> list[dict[str, Any]]:
    """The date-range and geography filters, on every sheet and every dataset with the column.

    ``anchor`` is the dataset whose column each filter names; ``CrossDataset: ALL_DATASETS`` applies it to every
    dataset with a column of the same name and type (the daily and snapshot datasets included; ``dim_date`` has no
    geography, so ``days`` ignores the geography filter, as in the metrics layer).
    """
    return [
        {
            "FilterGroupId": f"{DATE_FILTER}-group",
            "CrossDataset": "ALL_DATASETS",
            "ScopeConfiguration": {"AllSheets": {}},
            "Status": "ENABLED",
            "Filters": [
                {
                    "TimeRangeFilter": {
                        "FilterId": DATE_FILTER,
                        "Column": _column(anchor, qs.DATE_COLUMN),
                        "NullOption": "NON_NULLS_ONLY",
                        "IncludeMinimum": True,
                        "IncludeMaximum": True,
                        "TimeGranularity": "DAY",
                    }
                }
            ],
        },
        {
            "FilterGroupId": f"{GEOGRAPHY_FILTER}-group",
            "CrossDataset": "ALL_DATASETS",
            "ScopeConfiguration": {"AllSheets": {}},
            "Status": "ENABLED",
            "Filters": [
                {
                    "CategoryFilter": {
                        "FilterId": GEOGRAPHY_FILTER,
                        "Column": _column(anchor, "geography"),
                        "Configuration": {
                            "FilterListConfiguration": {
                                "MatchOperator": "EQUALS",
                                "SelectAllOptions": "FILTER_ALL_VALUES",
                                "NullOption": "ALL_VALUES",
                            }
                        },
                    }
                }
            ],
        },
    ]


def definition(dataset_arns: Mapping[str, Any], anchor: str = "fact_order") -> dict[str, Any]:
    """The ``Definition`` of the analysis and of the dashboard (CloudFormation property casing).

    ``dataset_arns`` maps each dataset identifier of :func:`lakehouse.core.metrics.quicksight.datasets` to its
    ARN (a CDK token). Raises ``KeyError`` when a field a visual needs has no dataset ARN.
    """
    fields = qs.calculated_fields()
    needed = {f.dataset for f in fields} | {anchor}
    missing = needed - set(dataset_arns)
    if missing:
        raise KeyError(f"no dataset ARN for {sorted(missing)}")
    return {
        "DataSetIdentifierDeclarations": [
            {"Identifier": identifier, "DataSetArn": arn} for identifier, arn in dataset_arns.items()
        ],
        "CalculatedFields": [
            {"DataSetIdentifier": f.dataset, "Name": f.name, "Expression": f.expression} for f in fields
        ],
        "FilterGroups": filter_groups(anchor),
        "Sheets": [sheet(page) for page in PAGES],
        "AnalysisDefaults": {
            "DefaultNewSheetConfiguration": {
                "InteractiveLayoutConfiguration": {
                    "Grid": {"CanvasSizeOptions": {"ScreenCanvasSizeOptions": {"ResizeOption": "RESPONSIVE"}}}
                },
                "SheetContentType": "INTERACTIVE",
            }
        },
    }
