"""The report's charts: declarative Vega-Lite specs written with Altair.

Each function returns an Altair chart that reads one or more *named* datasets (``alt.NamedData``)
instead of carrying its rows. The page keeps every dataset once, in a JSON data island, and hands
each chart the ones it names when it is drawn; so the figures are stored once, and a test can read
them back from the page and compare them with the marts.

Colours are fixed per stage and segment, so that a stage looks the same in every chart. Category
orders come from the caller (the data module's preferred order); nothing here computes a figure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import altair as alt

__all__ = ["CONFIG", "spec"]

WIDTH = 820

# Shared look, passed once to vega-embed for every chart rather than repeated in each spec.
CONFIG: dict[str, Any] = {
    "font": "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": 500},
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "orient": "right"},
    "header": {"labelFontSize": 12, "titleFontSize": 12},
}

STAGE_COLORS = {
    "new": "#4393c3",
    "active": "#7fbc41",
    "loyal": "#1b7837",
    "reactivated": "#35978f",
    "at_risk": "#f58518",
    "dormant": "#c9a77c",
    "churned": "#bab0ac",
    "none": "#e6e6e6",
}
SEGMENT_COLORS = {
    "champions": "#5aae61",
    "loyal_customers": "#a6dba0",
    "potential_loyalists": "#d9f0d3",
    "new_customers": "#92c5de",
    "promising": "#d1e5f0",
    "need_attention": "#fee090",
    "about_to_sleep": "#fddbc7",
    "at_risk": "#f4a582",
    "cant_lose_them": "#e0826f",
    "hibernating": "#e0e0e0",
    "lapsed": "#bababa",
    "prospect": "#f0f0f0",
}
GROWTH_COLORS = {
    "retained_users": "#7fbc41",
    "new_users": "#4393c3",
    "resurrected_users": "#35978f",
    "churned_users": "#d6604d",
}
# A reference line (zero, the diagonal) is one mark: it needs one row of data, not the chart's.
_ONE_ROW = alt.Data(values=[{}])
FALLBACK_COLORS = ("#9e9ac8", "#fdae6b", "#9ecae1", "#c7e9c0", "#fdd0a2", "#dadaeb", "#d9d9d9")


def spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The Vega-Lite spec of ``chart`` as plain JSON data (validated by Altair)."""
    return json.loads(chart.to_json(validate=True))


def _scale(domain: Sequence[str], colors: dict[str, str]) -> alt.Scale:
    """A colour scale with the fixed colour of each known value, in ``domain`` order."""
    extra = iter(FALLBACK_COLORS * (len(domain) // len(FALLBACK_COLORS) + 1))
    return alt.Scale(domain=list(domain), range=[colors.get(v) or next(extra) for v in domain])


def _counts(title: str | None) -> alt.Axis:
    """An axis of whole counts: no 0.5 users between the ticks."""
    # ",d", not ",": without a type, Vega derives a precision from the tick step (5e+4).
    # tickMinStep only caps the number of ticks: a domain of 0 to 2 still gets ticks at 0.5 and
    # 1.5 (labelled 1 and 2 again by ",d"), so those labels are left blank.
    return alt.Axis(
        title=title,
        format=",d",
        tickMinStep=1,
        labelExpr="datum.value % 1 ? '' : datum.label",
    )


def _label(field: str) -> str:
    """A Vega expression turning a snake_case value into words (``at_risk`` -> ``at risk``)."""
    return f"replace(datum.{field}, /_/g, ' ')"


def _time_axis(field: str, grain: str, title: str | None = None) -> alt.X:
    # UTC time units: dates are calendar days, not instants, so a reader west of Greenwich must
    # not see 30 June drawn in 29 June's month.
    unit = "utcyearmonth" if grain == "month" else "utcyearmonthdate"
    fmt = "%b %Y" if grain == "month" else "%d %b %Y"
    return alt.X(f"{unit}({field}):T", title=title, axis=alt.Axis(format=fmt, labelOverlap=True))


# --- lifecycle ---------------------------------------------------------------------------------


def stage_history(dataset: str, stages: Sequence[str], grain: str) -> alt.Chart:
    """Stacked bars: users per lifecycle stage at each period end, churned on top."""
    order = {stage: i for i, stage in enumerate(stages)}
    return (
        alt.Chart(alt.NamedData(name=dataset))
        .transform_calculate(
            stage_order=f"indexof({json.dumps(list(order))}, datum.stage)",
            stage_label=_label("stage"),
        )
        .mark_bar()
        .encode(
            x=_time_axis("period_end", grain),
            y=alt.Y("users:Q", axis=_counts("users"), stack="zero"),
            color=alt.Color(
                "stage:N",
                scale=_scale(stages, STAGE_COLORS),
                legend=alt.Legend(title="lifecycle stage", labelExpr=_label("label")),
            ),
            order=alt.Order("stage_order:Q", sort="ascending"),
            tooltip=[
                alt.Tooltip(
                    "utcyearmonthdate(period_end):T", title="period end", format="%d %b %Y"
                ),
                alt.Tooltip("stage_label:N", title="stage"),
                alt.Tooltip("users:Q", title="users", format=","),
            ],
        )
        .properties(width=WIDTH - 140, height=280)
    )


def flow_matrix(
    dataset: str,
    froms: Sequence[str],
    tos: Sequence[str],
    title: str,
    *,
    newcomer: str,
    dark_above: float,
) -> alt.LayerChart:
    """A from-to heatmap of one period's movements; the diagonal is the users who stayed.

    ``none`` as the origin (not in the population at the start) is labelled ``newcomer``.
    """
    base = alt.Chart(alt.NamedData(name=dataset)).transform_calculate(
        from_label=f"datum.from_segment === 'none' ? {json.dumps(newcomer)}"
        f" : {_label('from_segment')}",
        to_label=_label("to_segment"),
    )
    y_sort = [newcomer if s == "none" else s.replace("_", " ") for s in froms]
    x_sort = [s.replace("_", " ") for s in tos]
    cell = 56 if max(len(froms), len(tos)) <= 8 else 46
    encode: dict[str, Any] = {
        "x": alt.X(
            "to_label:N",
            sort=x_sort,
            title=f"{title} at the end",
            axis=alt.Axis(orient="top", labelAngle=-35, labelLimit=130),
        ),
        "y": alt.Y("from_label:N", sort=y_sort, title=f"{title} at the start"),
    }
    tooltip = [
        alt.Tooltip("from_label:N", title="from"),
        alt.Tooltip("to_label:N", title="to"),
        alt.Tooltip("users:Q", title="users", format=","),
    ]
    # The numbers are written in the cells, so the colour needs no legend; a square-root scale
    # keeps the small movements visible next to the large "stayed" cells.
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        **encode,
        color=alt.Color("users:Q", scale=alt.Scale(type="sqrt", scheme="blues"), legend=None),
        tooltip=tooltip,
    )
    text = base.mark_text(fontSize=11).encode(
        **encode,
        text=alt.Text("users:Q", format=","),
        color=alt.condition(f"datum.users > {dark_above}", alt.value("white"), alt.value("#222")),
        tooltip=tooltip,
    )
    return alt.layer(cells, text).properties(width=cell * len(tos), height=30 * len(froms))


# --- RFM ---------------------------------------------------------------------------------------


def rfm_grid(dataset: str, segments: Sequence[str]) -> alt.LayerChart:
    """The R-by-F grid: each cell coloured by its named segment, with users and revenue."""
    base = alt.Chart(alt.NamedData(name=dataset)).transform_calculate(
        segment_label=_label("segment"),
        users_label="format(datum.users, ',') + ' users'",
        revenue_label="format(datum.revenue, ',.0f') + ' revenue'",
    )
    encode: dict[str, Any] = {
        "x": alt.X(
            "f_score:O",
            title="F score (purchases in the RFM window: 1 fewest, 5 most)",
            scale=alt.Scale(domain=[1, 2, 3, 4, 5]),
            axis=alt.Axis(labelAngle=0),
        ),
        "y": alt.Y(
            "r_score:O",
            title="R score (5 = bought most recently)",
            scale=alt.Scale(domain=[5, 4, 3, 2, 1]),
        ),
    }
    tooltip = [
        alt.Tooltip("segment_label:N", title="segment"),
        alt.Tooltip("r_score:O", title="R"),
        alt.Tooltip("f_score:O", title="F"),
        alt.Tooltip("users:Q", title="users", format=","),
        alt.Tooltip("revenue:Q", title="revenue in the RFM window", format=",.2f"),
    ]
    cells = base.mark_rect(stroke="white", strokeWidth=3).encode(
        **encode,
        color=alt.Color(
            "segment:N",
            scale=_scale(segments, SEGMENT_COLORS),
            legend=alt.Legend(title="RFM segment", labelExpr=_label("label")),
        ),
        tooltip=tooltip,
    )
    name = base.mark_text(dy=-18, fontSize=10, fontStyle="italic", color="#333").encode(
        **encode, text="segment_label:N", tooltip=tooltip
    )
    users = base.mark_text(dy=0, fontSize=13, fontWeight="bold", color="#111").encode(
        **encode, text="users_label:N", tooltip=tooltip
    )
    revenue = base.mark_text(dy=17, fontSize=10, color="#333").encode(
        **encode, text="revenue_label:N", tooltip=tooltip
    )
    return alt.layer(cells, name, users, revenue).properties(width=600, height=400)


def segment_bars(dataset: str, segments: Sequence[str], title: str) -> alt.HConcatChart:
    """Users and revenue per segment, side by side, one bar per segment (zeros included)."""
    base = alt.Chart(alt.NamedData(name=dataset)).transform_calculate(
        segment_label=_label("segment")
    )
    order = [s.replace("_", " ") for s in segments]
    tooltip = [
        alt.Tooltip("segment_label:N", title=title),
        alt.Tooltip("users:Q", title="users", format=","),
        alt.Tooltip("user_share:Q", title="share of users", format=".1%"),
        alt.Tooltip("buyers:Q", title="buyers", format=","),
        alt.Tooltip("revenue:Q", title="revenue in the RFM window", format=",.2f"),
    ]

    def panel(field: str, x_title: str, color: str, fmt: str, labels: bool) -> alt.LayerChart:
        y = alt.Y(
            "segment_label:N",
            sort=order,
            title=title if labels else None,
            axis=alt.Axis(labels=labels, ticks=labels),
        )
        bars = base.mark_bar(color=color).encode(
            x=alt.X(f"{field}:Q", axis=_counts(x_title)), y=y, tooltip=tooltip
        )
        text = base.mark_text(align="left", dx=3, fontSize=10).encode(
            x=f"{field}:Q", y=y, text=alt.Text(f"{field}:Q", format=fmt)
        )
        return alt.layer(bars, text).properties(width=300, height=22 * len(segments))

    return alt.hconcat(
        panel("users", "users", "#4393c3", ",", labels=True),
        panel("revenue", "revenue in the RFM window", "#1b7837", ",.0f", labels=False),
    )


# --- growth ------------------------------------------------------------------------------------

GROWTH_PARTS = ("retained_users", "new_users", "resurrected_users", "churned_users")


def growth_bars(dataset: str) -> alt.Chart:
    """Diverging bars per month: retained, new and resurrected up, churned down."""
    return (
        alt.Chart(alt.NamedData(name=dataset))
        .transform_fold(list(GROWTH_PARTS), as_=["part", "count"])
        .transform_calculate(
            users="datum.part === 'churned_users' ? -datum.count : datum.count",
            part_label="replace(replace(datum.part, '_users', ''), /_/g, ' ')",
            part_order=f"indexof({json.dumps(list(GROWTH_PARTS))}, datum.part)",
        )
        .mark_bar()
        .encode(
            x=_time_axis("period_start", "month"),
            y=alt.Y("users:Q", axis=_counts("users (churned below zero)"), stack="zero"),
            color=alt.Color(
                "part:N",
                scale=_scale(GROWTH_PARTS, GROWTH_COLORS),
                legend=alt.Legend(
                    title=None, labelExpr="replace(replace(datum.label, '_users', ''), /_/g, ' ')"
                ),
            ),
            order=alt.Order("part_order:Q"),
            opacity=alt.condition("datum.is_complete", alt.value(1.0), alt.value(0.45)),
            tooltip=[
                alt.Tooltip("utcyearmonth(period_start):T", title="month", format="%B %Y"),
                alt.Tooltip("part_label:N", title="users"),
                alt.Tooltip("count:Q", title="count", format=","),
                alt.Tooltip("net_change:Q", title="net change", format="+,"),
                alt.Tooltip("is_complete:N", title="complete month"),
            ],
        )
        .properties(width=WIDTH - 120, height=260)
    )


def quick_ratio(dataset: str, complete: bool = True, running: bool = True) -> alt.LayerChart:
    """The quick ratio per complete month as a line, with the break-even line at 1. A running
    month is a hollow point off the line, its ratio so far set against the same days of the
    month before in the tooltip: a few days are never drawn as the month's result. `complete`
    and `running` say whether the data has such months with a ratio (a layer without data would
    leave its scale without an extent)."""
    base = alt.Chart(alt.NamedData(name=dataset)).transform_filter("isValid(datum.quick_ratio)")
    tooltip = [
        alt.Tooltip("utcyearmonth(period_start):T", title="month", format="%B %Y"),
        alt.Tooltip("quick_ratio:Q", title="quick ratio", format=".2f"),
        alt.Tooltip("new_users:Q", title="new", format=","),
        alt.Tooltip("resurrected_users:Q", title="resurrected", format=","),
        alt.Tooltip("churned_users:Q", title="churned", format=","),
    ]
    x = _time_axis("period_start", "month")
    y = alt.Y("quick_ratio:Q", title="quick ratio")
    line = (
        base.transform_filter("datum.is_complete")
        .mark_line(point=True, color="#4c78a8")
        .encode(x=x, y=y, tooltip=tooltip)
    )
    running_point = (
        base.transform_filter("!datum.is_complete")
        .mark_point(filled=False, size=80, color="#4c78a8", opacity=0.6)
        .encode(
            x=x,
            y=y,
            tooltip=[
                *tooltip,
                alt.Tooltip(
                    "utcyearmonthdate(measured_on):T", title="running, so far to", format="%d %b"
                ),
                alt.Tooltip(
                    "comparison_quick_ratio:Q", title="same days of the month before", format=".2f"
                ),
            ],
        )
    )
    one = base.mark_rule(color="#d6604d", strokeDash=[4, 4]).encode(y=alt.datum(1))
    layers = [one, *([line] if complete else []), *([running_point] if running else [])]
    return alt.layer(*layers).properties(width=WIDTH - 120, height=180)


ACTIVE_PARTS = ("daily_active_users", "weekly_active_users", "monthly_active_users")


def active_users(dataset: str) -> alt.LayerChart:
    """DAU, WAU and MAU measured on each month's last day (or on D for the running month)."""
    lines = (
        alt.Chart(alt.NamedData(name=dataset))
        .transform_fold(list(ACTIVE_PARTS), as_=["measure", "users"])
        .transform_calculate(
            measure_label="{daily_active_users: 'DAU', weekly_active_users: 'WAU',"
            " monthly_active_users: 'MAU'}[datum.measure]"
        )
        .mark_line()
        .encode(
            x=_time_axis("period_start", "month"),
            y=alt.Y("users:Q", axis=_counts("active users")),
            color=alt.Color(
                "measure_label:N",
                scale=alt.Scale(
                    domain=["MAU", "WAU", "DAU"], range=["#1b7837", "#4393c3", "#f58518"]
                ),
                legend=alt.Legend(title=None),
            ),
            tooltip=[
                alt.Tooltip(
                    "utcyearmonthdate(measured_on):T", title="measured on", format="%d %b %Y"
                ),
                alt.Tooltip("measure_label:N", title="measure"),
                alt.Tooltip("users:Q", title="users", format=","),
                alt.Tooltip("stickiness:Q", title="stickiness (DAU/MAU)", format=".1%"),
                alt.Tooltip("is_complete:N", title="complete month (false: running)"),
            ],
        )
    )
    # Points on top: a running month's is pale (measured on D, not on a month end).
    points = lines.mark_point(size=40, filled=True).encode(
        opacity=alt.condition("datum.is_complete", alt.value(1.0), alt.value(0.35)),
    )
    return alt.layer(lines.mark_line(), points).properties(width=WIDTH - 120, height=220)


# --- data quality ------------------------------------------------------------------------------


def quarantine_reasons(dataset: str, reasons: Sequence[tuple[str, str]]) -> alt.LayerChart:
    """Horizontal bars: rows quarantined per reason, in the order of ``reasons`` (source table,
    reason code), the most frequent first."""
    base = alt.Chart(alt.NamedData(name=dataset)).transform_calculate(
        reason="datum.source_table + ': ' + replace(datum.reason_code, /_/g, ' ')"
    )
    # An explicit order: "-x" in two layers counts as two different sorts to Vega-Lite.
    order = [f"{source}: {code.replace('_', ' ')}" for source, code in reasons]
    y = alt.Y("reason:N", sort=order, title=None, axis=alt.Axis(labelLimit=320))
    tooltip = [
        alt.Tooltip("source_table:N", title="source"),
        alt.Tooltip("reason_code:N", title="reason"),
        alt.Tooltip("row_count:Q", title="rows", format=","),
    ]
    bars = base.mark_bar(color="#d6604d").encode(
        x=alt.X("row_count:Q", axis=_counts("rows quarantined")), y=y, tooltip=tooltip
    )
    text = base.mark_text(align="left", dx=3, fontSize=10).encode(
        x="row_count:Q", y=y, text=alt.Text("row_count:Q", format=",")
    )
    return alt.layer(bars, text).properties(width=480)


# --- predictions -------------------------------------------------------------------------------


def histogram(dataset: str, x_title: str, x_format: str, color: str) -> alt.Chart:
    """Bars of pre-binned counts: ``bin_start`` to ``bin_end``, ``buyers``; a bin with
    ``open_ended`` true also holds everything above it."""
    return (
        alt.Chart(alt.NamedData(name=dataset))
        .transform_calculate(
            upper="datum.open_ended ? 'and above' : format(datum.bin_end, "
            + json.dumps(x_format)
            + ")"
        )
        .mark_bar(color=color, stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X("bin_start:Q", bin="binned", title=x_title, axis=alt.Axis(format=x_format)),
            x2="bin_end:Q",
            y=alt.Y("buyers:Q", axis=_counts("buyers")),
            tooltip=[
                alt.Tooltip("bin_start:Q", title="from", format=x_format),
                alt.Tooltip("upper:N", title="to"),
                alt.Tooltip("buyers:Q", title="buyers", format=","),
            ],
        )
        .properties(width=380, height=200)
    )


def calibration_bars(dataset: str, groups: Sequence[str]) -> alt.Chart:
    """Actual against predicted purchase days in the holdout, by repeat purchases before it."""
    return (
        alt.Chart(alt.NamedData(name=dataset))
        .transform_filter("datum.breakdown === 'repeat_purchase_days'")
        .transform_fold(["actual_purchase_days", "predicted_purchase_days"], as_=["kind", "days"])
        .transform_calculate(kind_label="replace(datum.kind, '_purchase_days', '')")
        .mark_bar()
        .encode(
            x=alt.X(
                "group_value:N",
                sort=list(groups),
                title="repeat purchase days before the cut-off",
                axis=alt.Axis(labelAngle=0),
            ),
            xOffset=alt.XOffset("kind_label:N", sort=["actual", "predicted"]),
            y=alt.Y("days:Q", axis=_counts("purchase days in the holdout")),
            color=alt.Color(
                "kind_label:N",
                scale=alt.Scale(domain=["actual", "predicted"], range=["#1b7837", "#9ecae1"]),
                legend=alt.Legend(title=None),
            ),
            tooltip=[
                alt.Tooltip("group_value:N", title="repeat purchase days"),
                alt.Tooltip("buyers:Q", title="buyers", format=","),
                alt.Tooltip("kind_label:N", title="purchase days"),
                alt.Tooltip("days:Q", title="count", format=",.1f"),
            ],
        )
        .properties(width=380, height=220)
    )


def calibration_scatter(dataset: str, top: float) -> alt.LayerChart:
    """Predicted against actual purchase days per RFM segment; on the diagonal is exact."""
    base = alt.Chart(alt.NamedData(name=dataset)).transform_filter(
        "datum.breakdown === 'rfm_segment' && isValid(datum.predicted_purchase_days)"
    )
    # Both axes on one scale, so that the diagonal is at 45 degrees.
    domain = [0, top * 1.05 or 1]
    diagonal = (
        alt.Chart(_ONE_ROW)
        .mark_rule(color="#999", strokeDash=[4, 4])
        .encode(x=alt.datum(0), y=alt.datum(0), x2=alt.datum(domain[1]), y2=alt.datum(domain[1]))
    )
    points = base.mark_circle(size=70, color="#4393c3").encode(
        x=alt.X(
            "predicted_purchase_days:Q",
            scale=alt.Scale(domain=domain, nice=False),
            axis=alt.Axis(title="predicted purchase days", format="~s", tickCount=5),
        ),
        y=alt.Y(
            "actual_purchase_days:Q",
            scale=alt.Scale(domain=domain, nice=False),
            axis=alt.Axis(title="actual purchase days", format="~s", tickCount=5),
        ),
        tooltip=[
            alt.Tooltip("group_value:N", title="RFM segment"),
            alt.Tooltip("buyers:Q", title="buyers", format=","),
            alt.Tooltip("actual_purchase_days:Q", title="actual", format=","),
            alt.Tooltip("predicted_purchase_days:Q", title="predicted", format=",.1f"),
        ],
    )
    # Only dots away from the crowded origin get a label; the tooltip names every one.
    labels = (
        base.transform_filter(
            f"max(datum.actual_purchase_days, datum.predicted_purchase_days) >= {top * 0.1}"
        )
        .transform_calculate(segment_label=_label("group_value"))
        .mark_text(align="left", dx=6, fontSize=10, color="#333")
        .encode(
            x="predicted_purchase_days:Q",
            y="actual_purchase_days:Q",
            text=alt.Text("segment_label:N"),
        )
    )
    return alt.layer(diagonal, points, labels).properties(width=300, height=300)


# --- outcomes ----------------------------------------------------------------------------------


def play_lift(
    dataset: str, plays: Sequence[str], field: str = "play_id", noun: str = "play"
) -> alt.LayerChart:
    """Lift per play in percentage points, with its 95% interval and the zero line.

    ``field`` names the rows (``play_id``; an audience's name), ``noun`` says what they are."""
    base = (
        alt.Chart(alt.NamedData(name=dataset))
        .transform_filter("isValid(datum.lift_pp)")
        .transform_calculate(
            verdict="datum.is_too_small ? 'too few users'"
            " : (datum.lift_ci_low_pp > 0 ? 'lift' : (datum.lift_ci_high_pp < 0 ? 'harm'"
            " : 'no clear effect'))"
        )
    )
    y = alt.Y(f"{field}:N", sort=list(plays), title=None, axis=alt.Axis(labelLimit=260))
    tooltip = [
        alt.Tooltip(f"{field}:N", title=noun),
        alt.Tooltip("lift_pp:Q", title="lift (pp)", format="+.2f"),
        alt.Tooltip("lift_ci_low_pp:Q", title="95% interval from", format="+.2f"),
        alt.Tooltip("lift_ci_high_pp:Q", title="95% interval to", format="+.2f"),
        alt.Tooltip("treated_users:Q", title="treated users", format=","),
        alt.Tooltip("holdout_users:Q", title="holdout users", format=","),
        alt.Tooltip("verdict:N", title="reading"),
    ]
    color = alt.Color(
        "verdict:N",
        scale=alt.Scale(
            domain=["lift", "harm", "no clear effect", "too few users"],
            range=["#1b7837", "#d6604d", "#4393c3", "#bbbbbb"],
        ),
        legend=alt.Legend(title=None, orient="bottom"),
    )
    zero = alt.Chart(_ONE_ROW).mark_rule(color="#666").encode(x=alt.datum(0))
    interval = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("lift_ci_low_pp:Q", title="lift in conversion, percentage points (95% interval)"),
        x2="lift_ci_high_pp:Q",
        y=y,
        color=color,
        tooltip=tooltip,
    )
    point = base.mark_point(filled=True, size=70).encode(
        x="lift_pp:Q", y=y, color=color, tooltip=tooltip
    )
    return alt.layer(zero, interval, point).properties(width=520, height=26 * max(len(plays), 2))


OUTCOME_PARTS = ("moved_up_share", "retained_share", "moved_down_share", "churned_share")


def stage_outcomes(dataset: str, segments: Sequence[str]) -> alt.Chart:
    """Stacked shares per stage: moved up, stayed, moved down, churned a month later."""
    return (
        alt.Chart(alt.NamedData(name=dataset))
        .transform_fold(list(OUTCOME_PARTS), as_=["outcome", "share"])
        .transform_calculate(
            outcome_label="{moved_up_share: 'moved up', retained_share: 'retained',"
            " moved_down_share: 'moved down', churned_share: 'lost'}[datum.outcome]",
            outcome_order=f"indexof({json.dumps(list(OUTCOME_PARTS))}, datum.outcome)",
            segment_label=_label("segment"),
        )
        .mark_bar()
        .encode(
            y=alt.Y("segment_label:N", sort=[s.replace("_", " ") for s in segments], title=None),
            x=alt.X("share:Q", title="share of the users", axis=alt.Axis(format="%")),
            color=alt.Color(
                "outcome_label:N",
                scale=alt.Scale(
                    domain=["moved up", "retained", "moved down", "lost"],
                    range=["#1b7837", "#a6dba0", "#f4a582", "#d6604d"],
                ),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            order=alt.Order("outcome_order:Q"),
            row=alt.Row(
                "segment_type:N",
                title=None,
                header=alt.Header(labelAngle=0, labelAlign="left", labelExpr=_label("value")),
            ),
            tooltip=[
                alt.Tooltip("segment_label:N", title="segment"),
                alt.Tooltip("users:Q", title="users", format=","),
                alt.Tooltip("outcome_label:N", title="outcome"),
                alt.Tooltip("share:Q", title="share", format=".1%"),
            ],
        )
        .resolve_scale(y="independent")
        .properties(width=520)
    )


def cohort_heatmap(
    dataset: str, cohort_type: str, share: str, title: str, top: float
) -> alt.LayerChart:
    """Cohort by months since its start, each cell the cohort's share active (or buying)."""
    base = alt.Chart(alt.NamedData(name=dataset)).transform_filter(
        f"datum.cohort_type === {json.dumps(cohort_type)}"
    )
    encode: dict[str, Any] = {
        "x": alt.X("months_since:O", title="months since the cohort's first month"),
        "y": alt.Y("utcyearmonth(cohort_month):O", title="cohort", axis=alt.Axis(format="%b %Y")),
    }
    cells = base.mark_rect().encode(
        **encode,
        # The running month is not over: its share will still rise, so it is drawn paler.
        opacity=alt.condition("datum.is_complete_month", alt.value(1.0), alt.value(0.5)),
        color=alt.Color(
            f"{share}:Q",
            # Month 0 is 100% by definition; the scale ends at the highest later share
            # (``top``), so that the months that matter are not all the palest green.
            scale=alt.Scale(scheme="greens", domain=[0, top], clamp=True),
            legend=alt.Legend(title=title, format="%"),
        ),
        tooltip=[
            alt.Tooltip("utcyearmonth(cohort_month):T", title="cohort", format="%B %Y"),
            alt.Tooltip("months_since:O", title="months since"),
            alt.Tooltip("cohort_users:Q", title="cohort users", format=","),
            alt.Tooltip(f"{share}:Q", title=title, format=".1%"),
            alt.Tooltip("revenue_per_cohort_user:Q", title="revenue per user", format=",.2f"),
        ],
    )
    return alt.layer(cells).properties(width=520)


# --- audiences ---------------------------------------------------------------------------------

AUDIENCE_MEASURES = ("member_count", "sendable_count")
PORTRAIT_LABELS = {
    "lifecycle_stage": "lifecycle stage",
    "rfm_segment": "RFM segment",
    "value_tier": "value tier",
    "platform": "last platform",
    "clv_band": "predicted CLV band",
    "intent_segment": "intent segment",
}


def audience_sizes(dataset: str, audiences: Sequence[str], columns: int = 3) -> alt.FacetChart:
    """Small multiples, one per audience (in ``audiences`` order): members and sent-to users on
    each evaluation day, the as-of date D marked by a dashed line. Each panel has its own
    y scale (audiences differ by orders of magnitude); the days are shared."""
    x = alt.X(
        "utcyearmonthdate(evaluated_on):T",
        title=None,
        axis=alt.Axis(format="%-d %b", labelOverlap=True, tickCount=4, labelFontSize=10),
    )
    folded = (
        alt.Chart()
        .transform_fold(list(AUDIENCE_MEASURES), as_=["measure", "users"])
        .transform_calculate(
            measure_label="datum.measure === 'member_count' ? 'members' : 'sent to'"
        )
    )
    color = alt.Color(
        "measure_label:N",
        scale=alt.Scale(domain=["members", "sent to"], range=["#4393c3", "#1b7837"]),
        legend=alt.Legend(title=None, orient="top"),
    )
    y = alt.Y("users:Q", axis=_counts(None), scale=alt.Scale(zero=True))
    tooltip = [
        alt.Tooltip("audience_name:N", title="audience"),
        alt.Tooltip("utcyearmonthdate(evaluated_on):T", title="evaluated on", format="%d %b %Y"),
        alt.Tooltip("is_as_of_date:N", title="the as-of date"),
        alt.Tooltip("member_count:Q", title="members", format=","),
        alt.Tooltip("holdout_count:Q", title="held out", format=","),
        alt.Tooltip("sendable_count:Q", title="sent to", format=","),
        alt.Tooltip("entered_count:Q", title="entered since the day before", format=","),
        alt.Tooltip("exited_count:Q", title="left since the day before", format=","),
    ]
    as_of = alt.Chart().transform_filter("datum.is_as_of_date")
    rule = as_of.mark_rule(color="#999", strokeDash=[3, 3]).encode(x=x)
    mark_d = as_of.mark_text(dy=-6, fontSize=10, color="#666", baseline="bottom").encode(
        x=x, y=alt.value(0), text=alt.value("D")
    )
    line = folded.mark_line(strokeWidth=1.5).encode(x=x, y=y, color=color)
    points = folded.mark_point(filled=True).encode(
        x=x,
        y=y,
        color=color,
        size=alt.condition("datum.is_as_of_date", alt.value(60), alt.value(20)),
        tooltip=tooltip,
    )
    return (
        alt.layer(rule, mark_d, line, points, data=alt.NamedData(name=dataset))
        .properties(width=220, height=90)
        .facet(
            facet=alt.Facet(
                "audience_name:N",
                sort=list(audiences),
                title=None,
                header=alt.Header(labelFontWeight=600, labelLimit=240),
            ),
            columns=columns,
            spacing={"row": 26, "column": 22},
        )
        # every panel its own y scale; the days' scale is shared, but each panel draws its axis
        # (otherwise the last row's axes also hang under the empty cells of the grid)
        .resolve_scale(y="independent")
        .resolve_axis(x="independent")
    )


def audience_portraits(
    dataset: str, audiences: Sequence[str], dimensions: Sequence[str]
) -> alt.LayerChart:
    """Each audience's portrait on D: one row per audience and one column per dimension, each
    cell giving the most over-represented value (upper half) and the most under-represented one
    (lower half) with its representation index. The colour is the index on a log scale: blue
    over 1, red under, white at 1 (as common as among all users)."""
    labels = {d: PORTRAIT_LABELS.get(d, d.replace("_", " ")) for d in dimensions}
    base = alt.Chart(alt.NamedData(name=dataset)).transform_calculate(
        dimension_label=f"{json.dumps(labels)}[datum.dimension] || datum.dimension",
        value_label=_label("dimension_value"),
        # log2 of the index, kept to 1/16..16 so that an absent value (0) is the darkest red
        log_index="log(clamp(datum.representation_index, 0.0625, 16)) / LN2",
        index_label="datum.representation_index >= 10"
        " ? format(datum.representation_index, ',.0f')"
        " : format(datum.representation_index, datum.representation_index >= 1 ? '.3~g' : '.2~g')",
    )
    encode: dict[str, Any] = {
        "x": alt.X(
            "dimension_label:N",
            sort=[labels[d] for d in dimensions],
            title=None,
            axis=alt.Axis(orient="top", labelAngle=0, labelFontWeight=600, ticks=False),
            scale=alt.Scale(paddingInner=0.04),
        ),
        "y": alt.Y(
            "audience_name:N",
            sort=list(audiences),
            title=None,
            axis=alt.Axis(labelLimit=220, labelFontWeight=600, ticks=False),
            scale=alt.Scale(paddingInner=0.15),
        ),
        "yOffset": alt.YOffset("side:N", sort=["over", "under"]),
    }
    tooltip = [
        alt.Tooltip("audience_name:N", title="audience"),
        alt.Tooltip("dimension_label:N", title="dimension"),
        alt.Tooltip("value_label:N", title="value"),
        alt.Tooltip("side:N", title="represented"),
        alt.Tooltip("representation_index:Q", title="representation index", format=".2f"),
        alt.Tooltip("member_count:Q", title="members with it", format=","),
        alt.Tooltip("member_share:Q", title="share of the audience", format=".1%"),
        alt.Tooltip("all_user_count:Q", title="all users with it", format=","),
        alt.Tooltip("all_user_share:Q", title="share of all users", format=".1%"),
    ]
    cells = base.mark_rect().encode(
        **encode,
        color=alt.Color(
            "log_index:Q",
            scale=alt.Scale(scheme="redblue", domain=[-4, 4], domainMid=0),
            legend=alt.Legend(
                title="representation index",
                orient="bottom",
                values=[-4, -2, -1, 0, 1, 2, 4],
                labelExpr="datum.value <= -4 ? '0 to 1/16' : (datum.value < 0"
                " ? '1/' + format(pow(2, -datum.value), 'd') : format(pow(2, datum.value), 'd'))",
                gradientLength=280,
            ),
        ),
        tooltip=tooltip,
    )
    text = (
        base.mark_text(fontSize=10.5, limit=128)
        .encode(
            **encode,
            text=alt.Text("cell_label:N"),
            color=alt.condition(
                "abs(datum.log_index) > 2.5", alt.value("white"), alt.value("#222")
            ),
            tooltip=tooltip,
        )
        .transform_calculate(
            cell_label="(datum.side === 'over' ? '▲ ' : '▼ ') + datum.value_label + ' \u00d7'"
            " + datum.index_label"
        )
    )
    return alt.layer(cells, text).properties(width=132 * len(dimensions), height=alt.Step(17))
