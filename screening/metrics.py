"""The metrics of a door-to-door check, defined once. The check model, the daily
statistics, the rollup, the API, the dashboard and the exports all read this list, so a
metric added here appears everywhere (with a migration for its two columns)."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Metric:
    name: str  # field name on Check and DailyStat, and the API's key
    label: object  # translatable label
    risk: bool = False  # an abnormal finding: shown in red, offered as a map colouring


METRICS: tuple[Metric, ...] = (
    Metric("persons_present", _("persons present")),
    Metric("returnees", _("returnees")),
    Metric("returnees_risk_area", _("returnees from medium/high-risk areas"), risk=True),
    Metric("yellow_codes", _("yellow health codes"), risk=True),
    Metric("red_codes", _("red health codes"), risk=True),
    Metric("fever", _("fever or abnormal temperature"), risk=True),
    Metric("samples_taken", _("nucleic-acid samples taken")),
)
METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)
BY_NAME = {m.name: m for m in METRICS}

# The coverage figures every DailyStat row carries besides the metrics.
COVERAGE_FIELDS = ("households_total", "households_checked", "leaves_expected", "leaves_reported")
