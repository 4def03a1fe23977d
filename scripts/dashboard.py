"""The hotlist-matcher Grafana dashboard, as code (grafanalib).

Writes helm/hotlist-matcher/files/dashboard.json, which the chart ships as a
ConfigMap labelled `grafana_dashboard`. Run through scripts/dashboard.sh
(a pinned grafanalib in a cached venv): `generate` rewrites the JSON,
`check` fails when the committed JSON differs from what this file makes
(scripts/test.sh runs it). The integration test `prometheus` evaluates
every expression here against a real Prometheus scraping the service.

Panels name only metrics the service exports (src/metrics.rs), plus the
day-key metrics of the encryption-at-rest work.
"""

import json
import sys

from grafanalib.core import (
    BarGauge,
    Dashboard,
    GridPos,
    RowPanel,
    Stat,
    Target,
    Template,
    Templating,
    Threshold,
    TimeSeries,
)
from grafanalib._gen import DashboardEncoder

DATASOURCE = "${datasource}"
RATE = "[5m]"


def target(expr, legend="", ref="A", instant=False):
    return Target(expr=expr, legendFormat=legend, refId=ref, datasource=DATASOURCE, instant=instant)


def series(title, targets, unit="short", description="", stacking=None):
    return TimeSeries(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=[target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(targets)],
        unit=unit,
        stacking=stacking or {},
        legendDisplayMode="table",
        legendPlacement="right",
        legendCalcs=["lastNotNull", "max"],
    )


def bars(title, expr, legend, unit, red_above, description=""):
    """A bar per label value, red past `red_above`: what stands out on call."""
    return BarGauge(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=[target(expr, legend, instant=True)],
        format=unit,
        min=0,
        max=red_above * 2,
        orientation="horizontal",
        displayMode="basic",
        calc="lastNotNull",
        thresholds=[
            Threshold("green", 0, 0.0),
            Threshold("orange", 1, red_above / 2),
            Threshold("red", 2, float(red_above)),
        ],
    )


def stat(title, expr, unit="short", red_above=None, description=""):
    thresholds = [Threshold("green", 0, 0.0)]
    if red_above is not None:
        thresholds.append(Threshold("red", 1, float(red_above)))
    return Stat(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=[target(expr, instant=True)],
        format=unit,
        thresholds=thresholds,
        reduceCalc="lastNotNull",
    )


# (row, [panels]) in display order; each panel is 12 wide, two per line.
SECTIONS = [
    ("Throughput", [
        series("Reads per second by outcome",
               [(f"sum by (outcome) (rate(hotlist_reads_by_outcome_total{RATE}))", "{{outcome}}")],
               unit="reqps", stacking={"mode": "normal", "group": "A"},
               description="Every record taken from alpr.reads: hit, no_hit, or rejected (dead-lettered)."),
        series("Dead letters per second by reason",
               [(f"sum by (reason) (rate(hotlist_dlq_total{RATE}))", "{{reason}}")],
               unit="reqps", description="Records sent to alpr.reads.dlq, by reason code."),
    ]),
    ("Hits", [
        series("Hit rate by match kind",
               [(f"sum by (match_kind) (rate(hotlist_matches_total{RATE})) "
                 f"/ ignoring (match_kind) group_left sum(rate(hotlist_reads_total{RATE}))", "{{match_kind}}")],
               unit="percentunit",
               description="Hits (one per alert) per read, by how they matched."),
        series("Hits per second by category",
               [(f"sum by (category) (rate(hotlist_matches_total{RATE}))", "{{category}}")],
               unit="reqps"),
    ]),
    ("Latency", [
        series("Per-read match time",
               [(f"histogram_quantile({q}, sum by (le) (rate(hotlist_match_duration_seconds_bucket{RATE})))", f"p{p}")
                for q, p in [(0.5, 50), (0.99, 99)]],
               unit="s", description="Parse, normalize and match one read."),
        series("Read to alert (capture to acknowledged by the broker)",
               [(f"histogram_quantile({q}, sum by (le) (rate(hotlist_read_to_alert_seconds_bucket{RATE})))", f"p{p}")
                for q, p in [(0.5, 50), (0.9, 90), (0.99, 99)]],
               unit="s", description="The HotlistReadToAlertSlow alert fires when p99 stays above 5 s."),
    ]),
    ("Consumer", [
        series("Consumer lag per partition",
               [("sum by (instance, partition) (hotlist_consumer_lag)", "{{instance}} p{{partition}}")],
               description="Reads behind the end of each alpr.reads partition."),
        series("Reads partitions held",
               [("sum by (instance) (hotlist_source_assigned_partitions)", "{{instance}}"),
                ("max by (instance) (hotlist_source_unassigned_seconds)", "{{instance}} unassigned s")],
               description="An instance holding none for longer than the grace matches nothing (not ready)."),
    ]),
    ("Cameras", [
        bars("Seconds since each camera's last read",
             'sort_desc(time() - max by (camera) (hotlist_camera_last_read_timestamp_seconds{camera!="other"}))',
             "{{camera}}", "s", 900,
             description="Silent cameras stand out: red after 15 minutes (HotlistCameraSilent)."),
        series("Reads per second by camera",
               [(f"sum by (camera) (rate(hotlist_camera_reads_total{RATE}))", "{{camera}}")],
               unit="reqps",
               description="Cameras are learned up to 500; the rest and malformed ids count as `other`."),
    ]),
    ("Hotlists", [
        bars("Hotlist age (since last refresh)",
             "sort_desc(time() - max by (list) (hotlist_list_refreshed_timestamp_seconds))",
             "{{list}}", "s", 86400,
             description="Red after 24 h, the default hotlist.max_age_hours (HotlistStaleHotlist)."),
        series("Entries per hotlist",
               [("max by (list) (hotlist_list_entries)", "{{list}}"),
                ("max(hotlist_hotlist_entries)", "all loaded"),
                ("max(hotlist_stale_lists)", "stale lists")]),
    ]),
    ("Alerts", [
        series("Alerts per second",
               [(f"sum(rate(hotlist_alerts_total{RATE}))", "raised"),
                (f"max(rate(hotlist_alerts_suppressed_total{RATE}))", "suppressed (same incident)"),
                (f"sum(rate(hotlist_historical_alerts_total{RATE}))", "historical")],
               unit="reqps"),
        series("Dispatch outcomes per hour (confirmed vs misread)",
               [("sum by (state) (increase(hotlist_alert_state_changes_total[1h]))", "{{state}}"),
                ("sum by (match_kind) (increase(hotlist_misread_rejections_total[1h]))", "misread: {{match_kind}}")],
               description="Decisions dispatch applied; misread rejections are the field measure of accuracy."),
    ]),
    ("Webhooks", [
        series("Webhook deliveries per second by outcome",
               [(f"sum by (endpoint) (rate(hotlist_webhook_delivered_total{RATE}))", "{{endpoint}} delivered"),
                (f"sum by (endpoint) (rate(hotlist_webhook_retries_total{RATE}))", "{{endpoint}} retried"),
                (f"sum by (endpoint) (rate(hotlist_webhook_dead_letters_total{RATE}))", "{{endpoint}} dead-lettered")],
               unit="reqps"),
        series("Misread rejections by camera (1 day)",
               [("sum by (camera) (increase(hotlist_misread_rejections_total[1d]))", "{{camera}}")]),
    ]),
    ("Security and retention", [
        series("Logins per 5 minutes by outcome",
               [(f"sum by (outcome) (increase(hotlist_logins_total{RATE}))", "{{outcome}}")],
               description="Failures and lockouts: HotlistFailedLoginBurst fires above 20 in 5 minutes."),
        series("Audit records sealed per second",
               [(f"sum(rate(hotlist_audit_sealed_total{RATE}))", "sealed"),
                ("sum(increase(hotlist_audit_events_refused_total[1h]))", "refused (1 h)"),
                ("sum(increase(hotlist_principal_records_refused_total[1h]))", "principal records refused (1 h)")]),
        stat("Topic retention violations", "max(hotlist_topic_policy_violations)", red_above=1,
             description="Topic settings that keep ALPR data past 30 days (HotlistRetentionViolation)."),
        series("Retention checks and day keys",
               [("sum by (result) (increase(hotlist_retention_checks_total[1d]))", "checks: {{result}}"),
                ("sum(increase(hotlist_day_keys_destroyed_total[1d]))", "day keys destroyed (1 d)"),
                ("max(hotlist_day_keys)", "day keys held")]),
    ]),
]


def dashboard():
    panels = []
    y = 0
    for title, section in SECTIONS:
        panels.append(RowPanel(title=title, gridPos=GridPos(h=1, w=24, x=0, y=y)))
        y += 1
        for i, panel in enumerate(section):
            panel.gridPos = GridPos(h=8, w=12, x=12 * (i % 2), y=y + 8 * (i // 2))
            panels.append(panel)
        y += 8 * ((len(section) + 1) // 2)
    return Dashboard(
        title="hotlist-matcher",
        uid="hotlist-matcher",
        description="ALPR hotlist matching: throughput, hits, latency, lag, cameras, hotlists, alerts, webhooks, security.",
        tags=["hotlist-matcher", "alpr"],
        timezone="browser",
        refresh="30s",
        templating=Templating(list=[
            Template(name="datasource", label="Prometheus", query="prometheus", type="datasource", default="Prometheus"),
        ]),
        panels=panels,
    ).auto_panel_ids()


def render():
    data = dashboard().to_json_data()
    return json.dumps(data, sort_keys=True, indent=2, cls=DashboardEncoder) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
