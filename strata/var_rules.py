"""What every dbt var may be, declared once, checked before dbt starts (docs/segments.md, 8).

The defaults live in dbt_project.yml; this table says each var's kind and range, so that a typo,
a negative window or text meant to break out of SQL is refused with the var's name (exit 2)
instead of building something wrong. A test checks that every var of dbt_project.yml has a rule
here and every rule names a real var, and that every default passes its own rule.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from strata.project import project_vars


@dataclass(frozen=True)
class Rule:
    """A var's kind ('int', 'number', 'text', 'date', 'bool', 'int_list', 'list', 'mapping'),
    its range, the values it may take, a pattern for text, and whether null is allowed."""

    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    pattern: str | None = None
    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        """Why `value` does not fit, or None."""
        if value is None:
            return None if self.nullable else "may not be null"
        check = _KINDS[self.kind]
        if not check(value):
            return f"must be {_KIND_WORDS[self.kind]}"
        values = value if self.kind == "int_list" else [value]
        for item in values:
            if self.low is not None and item < self.low:
                return f"must be at least {self.low:g}"
            if self.high is not None and item > self.high:
                return f"must be at most {self.high:g}"
        if self.choices and value not in self.choices:
            return "must be one of " + ", ".join(str(choice) for choice in self.choices)
        if self.pattern and not re.fullmatch(self.pattern, str(value)):
            return f"must match {self.pattern}"
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_date(value: Any) -> bool:
    if isinstance(value, dt.date):
        return True
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)))


_KINDS: dict[str, Callable[[Any], bool]] = {
    "int": _is_int,
    "number": lambda v: (_is_int(v) or isinstance(v, float)) and v == v,
    "text": lambda v: isinstance(v, str),
    "date": _is_date,
    "bool": lambda v: isinstance(v, bool),
    "int_list": lambda v: isinstance(v, list) and bool(v) and all(_is_int(i) for i in v),
    "list": lambda v: isinstance(v, list),
    "mapping": lambda v: isinstance(v, Mapping),
}
_KIND_WORDS = {
    "int": "a whole number",
    "number": "a number",
    "text": "text",
    "date": "a date as YYYY-MM-DD",
    "bool": "true or false",
    "int_list": "a list of whole numbers",
    "list": "a list",
    "mapping": "a mapping",
}

DAYS = Rule("int", 1, 36_500)
SHARE = Rule("number", 0, 1)
GROWTH = Rule("number", 0, 1_000)
# Names that reach SQL inside identifiers (schemas, tables) are plain names.
NAME = Rule("text", pattern=r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")

RULES: dict[str, Rule] = {
    "raw_schema": NAME,
    "raw_file_layouts": Rule("list"),
    "raw_orders_table": NAME,
    "raw_sessions_table": NAME,
    "reporting_currency": Rule("text", pattern=r"[A-Z]{3}"),
    "future_tolerance_minutes": Rule("int", 0, 10_080),
    "max_session_hours": Rule("int", 1, 720),
    "max_order_amount": Rule("number", 0),
    "min_event_date": Rule("date"),
    "excluded_user_pattern": Rule("text"),
    "guard_max_quarantined_share": SHARE,
    "guard_max_clean_rows_drop": SHARE,
    "guard_max_clean_rows_growth": GROWTH,
    "guard_max_active_users_drop": SHARE,
    "guard_max_active_users_growth": GROWTH,
    "guard_max_days_without_data": Rule("int", 0, 36_500),
    "guard_max_new_quarantined_share": SHARE,
    "guard_min_new_rows": Rule("int", 1),
    "accept_anomalies": Rule("bool"),
    "complete_day_share": Rule("number", 0.5, 1),
    "complete_day_lookback_days": Rule("int", 1, 366),
    "complete_day_min_events": Rule("int", 1),
    "rfm_window_days": Rule("int", 1, 36_500, nullable=True),
    "activity_windows": Rule("int_list", 1, 36_500),
    "engagement_recent_days": DAYS,
    "engagement_baseline_days": DAYS,
    "return_window_days": DAYS,
    "open_cart_hours": Rule("int", 1, 8_760),
    "loyal_window_days": DAYS,
    "churn_after_days": DAYS,
    "dormant_after_days": DAYS,
    "new_user_days": DAYS,
    "at_risk_min_baseline": Rule("number", 0),
    "at_risk_ratio": SHARE,
    "loyal_min_purchases": Rule("int", 1),
    "lifecycle_thresholds": Rule("text", choices=("vars", "auto")),
    "dormant_gap_share": SHARE,
    "churn_gap_warn_share": SHARE,
    "threshold_too_long_factor": Rule("number", 1, 1_000),
    "threshold_min_repeat_gaps": Rule("int", 1),
    "rfm_scoring": Rule("text", choices=("quantile", "thresholds")),
    "rfm_class_center": Rule("text", choices=("mean", "median")),
    "value_tier_vip_min_decile": Rule("int", 1, 10),
    "value_tier_mid_min_decile": Rule("int", 1, 10),
    "prediction_horizon_days": Rule("int_list", 1, 3_650),
    "prediction_holdout_days": DAYS,
    "clv_horizon_days": DAYS,
    "clv_step_days": DAYS,
    "clv_annual_discount_rate": Rule("number", 0, 1),
    "prediction_min_repeat_buyers": Rule("int", 1),
    "churn_risk_high_below": SHARE,
    "churn_risk_medium_below": SHARE,
    "intent_high_value_min_decile": Rule("int", 1, 10),
    "intent_likely_to_buy_min_purchases": Rule("number", 0),
    "prediction_conflict_warn_share": SHARE,
    "holdout_share": SHARE,
    "holdout_salt": Rule("text", pattern=r"[^\x00-\x1f]{1,200}"),
    "holdout_history": Rule("list"),
    # written by strata from audiences/*.yml (checked there, file and line), never by hand
    "audiences": Rule("list"),
    "audience_history_periods": Rule("int", 0, 36),
    # triggers (docs/triggers.md): every window in hours or days
    "trigger_lookback_days": DAYS,
    "trigger_cart_hours": Rule("number", 0.01, 8_760),
    "trigger_cart_keep_hours": Rule("number", 0.01, 8_760),
    "trigger_browse_sessions": Rule("int", 1, 1_000),
    "trigger_browse_days": DAYS,
    "trigger_browse_keep_days": DAYS,
    "trigger_came_back_keep_days": DAYS,
    "trigger_first_purchase_keep_days": DAYS,
    # `auto` (the shop's rhythm) or a number of days, checked by the model itself
    "trigger_second_purchase_days": Rule("text", pattern=r"auto|[0-9]+(\.[0-9]+)?"),
    "trigger_second_purchase_fallback_days": DAYS,
    "trigger_second_purchase_keep_days": DAYS,
    "outcome_window_days": DAYS,
    "outcome_min_group_users": Rule("int", 1),
    "rfm_snapshot_grain": Rule("text", choices=("month", "week")),
    "rfm_snapshot_begin": Rule("date", nullable=True),
    "rfm_snapshot_recompute": Rule("mapping", nullable=True),  # set by `strata backfill`
}

# Rules between vars: (test, sentence when it fails).
CROSS_RULES: list[tuple[Callable[[Mapping[str, Any]], bool], str]] = [
    (
        lambda v: v["dormant_after_days"] < v["churn_after_days"],
        "dormant_after_days must be below churn_after_days (dormant comes before churned)",
    ),
    (
        lambda v: v["churn_gap_warn_share"] <= v["dormant_gap_share"],
        "churn_gap_warn_share must not be above dormant_gap_share (churn is suggested at a "
        "longer gap than dormancy)",
    ),
    (
        lambda v: v["churn_risk_high_below"] <= v["churn_risk_medium_below"],
        "churn_risk_high_below must not be above churn_risk_medium_below",
    ),
    (
        lambda v: v["value_tier_mid_min_decile"] <= v["value_tier_vip_min_decile"],
        "value_tier_mid_min_decile must not be above value_tier_vip_min_decile",
    ),
]


def var_problems(given: Mapping[str, Any]) -> list[str]:
    """A sentence per var of `given` that is unknown, of the wrong kind or out of range, and per
    rule between vars that the given values (over the project's defaults) break."""
    problems = []
    for name, value in given.items():
        rule = RULES.get(name)
        if rule is None:
            close = difflib.get_close_matches(name, RULES, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"unknown var {name}{hint}")
            continue
        problem = rule.problem(value)
        if problem:
            problems.append(f"var {name} = {value!r} {problem}")
    if not problems:
        merged = {**project_vars(), **given}
        problems += [sentence for test, sentence in CROSS_RULES if not test(merged)]
    return problems


def differing_vars(given: Mapping[str, Any]) -> dict[str, Any]:
    """The vars of `given` whose value differs from dbt_project.yml's default."""
    defaults = project_vars()
    return {name: value for name, value in given.items() if defaults.get(name) != value}
