"""Component ids shared by the shell and the pages.

Ids live here (or carry their page's prefix) so two pages can never register
the same id by accident. Operations-page ids start with ``ops-``.
"""

from __future__ import annotations

# shell (app.py)
NAVBAR = "shell-navbar"
NAV_LINKS = "shell-nav-links"
DEMO_BANNER = "demo-banner"
USER_BADGE = "user-badge"
LOGOUT = "logout-link"

# operations page
OPS_MAP = "ops-map"
OPS_INTERVAL = "ops-interval"
OPS_LAST_TIME = "ops-last-time"  # dcc.Store: simulated time of the view last drawn
OPS_SCENARIO = "ops-scenario"
OPS_STATUS = "ops-status"
OPS_ALERTS = "ops-alerts"  # the alert feed: one ``li.alert-row`` per alert, newest first

# KPI tiles of the operations page; each value is shown in ``ops-kpi-<key>``.
OPS_KPI_KEYS = ("clock", "vehicles", "arrived", "mean_speed", "progress")


def ops_kpi(key: str) -> str:
    """The id of the value element of the operations KPI tile ``key``."""
    if key not in OPS_KPI_KEYS:
        raise ValueError(f"unknown KPI tile {key!r}; expected one of {OPS_KPI_KEYS}")
    return f"ops-kpi-{key}"

# sensors page
SENSORS_INTERVAL = "sensors-interval"
SENSORS_SORT = "sensors-sort"  # dcc.RadioItems: dashboard.sensor_table.SORT_KEYS
SENSORS_WINDOW = "sensors-window"  # which window and clock the figures use
SENSORS_TABLE = "sensors-table"  # tbody: one ``tr.sensor-row`` per source
SENSORS_REJECTED = "sensors-rejected"  # one ``li.rejected-row`` per payload, newest first
SENSORS_TILE_KEYS = ("online", "stale", "offline", "quarantined")


def sensors_tile(key: str) -> str:
    """The id of the value element of the sensors tile ``key``."""
    if key not in SENSORS_TILE_KEYS:
        raise ValueError(f"unknown sensors tile {key!r}; expected one of {SENSORS_TILE_KEYS}")
    return f"sensors-tile-{key}"

# service index page (pages/index.py); per-service ids end in the service name
INDEX_WINDOW = "index-window"  # dcc.RadioItems: rolling window in days
INDEX_END = "index-end"  # dcc.RadioItems: window end, "latest" (newest data) or "now"
INDEX_AREA = "index-area"  # dcc.Dropdown: twin.modules.quality.areas
INDEX_TREND_KIND = "index-trend-kind"  # dcc.RadioItems: "rolling" or "month"
INDEX_STATUS = "index-status"  # what was computed: version, area, window
INDEX_AAI_GAUGE = "index-aai-gauge"
INDEX_AAI_TEXT = "index-aai-text"
INDEX_TREND = "index-trend"  # published scores of every service
INDEX_SELECTED = "index-selected"  # dcc.Store: the service being explained
INDEX_DRILL = "index-drill"  # the explanation of the selected service


def index_gauge(service: str) -> str:
    """The id of the gauge (dcc.Graph) of ``service`` on the Service index page."""
    return f"index-gauge-{service}"


def index_grade(service: str) -> str:
    """The id of the grade line of ``service``."""
    return f"index-grade-{service}"


def index_pick(service: str) -> str:
    """The id of the button that opens the explanation of ``service``."""
    return f"index-pick-{service}"

# call centre & dispatch page (dashboard/pages/dispatch.py)
DISPATCH_RUN = "dispatch-run"  # dcc.Dropdown: runs with a saved dispatch board
DISPATCH_INTERVAL = "dispatch-interval"
DISPATCH_STATUS = "dispatch-status"  # which run, the board's clock and policy
DISPATCH_TILES = "dispatch-tiles"  # KPI tiles: answer time, response P50/P90 per service
DISPATCH_QUEUE = "dispatch-queue"  # ul: one ``li.call-row`` per waiting call
DISPATCH_INCIDENTS = "dispatch-incidents"  # one ``div.incident-card`` per active incident
DISPATCH_UNITS = "dispatch-units"  # one ``div.unit-column`` per unit status
DISPATCH_OVR_INCIDENT = "dispatch-override-incident"
DISPATCH_OVR_KIND = "dispatch-override-kind"
DISPATCH_OVR_UNIT = "dispatch-override-unit"
DISPATCH_OVR_SEND = "dispatch-override-send"
DISPATCH_OVR_MESSAGE = "dispatch-override-message"
DISPATCH_OVR_DONE = "dispatch-override-done"  # dcc.Store: overrides sent (redraws the board)
DISPATCH_QUEUE_KEYS = ("waiting", "answered", "abandoned")


def dispatch_queue(key: str) -> str:
    """The id of the value element of the call-queue tile ``key``."""
    if key not in DISPATCH_QUEUE_KEYS:
        raise ValueError(f"unknown queue tile {key!r}; expected one of {DISPATCH_QUEUE_KEYS}")
    return f"dispatch-queue-{key}"

# enforcement page (dashboard/pages/enforcement.py)
ENF_INTERVAL = "enf-interval"
ENF_COUNTS = "enf-counts"  # one ``div.enf-count`` tile per case state with cases
ENF_QUEUE = "enf-queue"  # dcc.RadioItems: cases awaiting verification, oldest first
ENF_EVIDENCE = "enf-evidence"  # the selected case's evidence
ENF_REASON = "enf-reason"  # rejection reason (required to reject)
ENF_VERIFY = "enf-verify"
ENF_REJECT = "enf-reject"
ENF_MESSAGE = "enf-message"  # the outcome of the last verify/reject
ENF_LAST_ACTION = "enf-last-action"  # dcc.Store: bumps the refresh after a decision
ENF_PAYMENTS = "enf-payments"  # one ``li.payment-row`` per payment, newest first
ENF_TAR_QUERY = "enf-tar-query"  # plate or driver id
ENF_TAR_REASON = "enf-tar-reason"  # why personal data is viewed (access log)
ENF_TAR_GO = "enf-tar-go"
ENF_TAR_RESULT = "enf-tar-result"

# planner page (dashboard/pages/planner.py)
PLAN_SCENARIO = "plan-scenario"  # dcc.Dropdown: scenario files
PLAN_PARAM = "plan-param"  # dotted parameter name
PLAN_PARAM_CHECK = "plan-param-check"  # why the parameter is unknown (empty when it is fine)
PLAN_VALUES = "plan-values"  # comma-separated values
PLAN_REPLICATIONS = "plan-replications"
PLAN_DURATION = "plan-duration"  # seconds; empty: the scenario's
PLAN_NAME = "plan-name"  # the sweep's folder name
PLAN_START = "plan-start"
PLAN_MESSAGE = "plan-message"  # the outcome of the last Start
PLAN_INTERVAL = "plan-interval"
PLAN_PROGRESS = "plan-progress"  # runs done / total of the latest job
PLAN_ERRORS = "plan-errors"  # failed runs of the latest job
PLAN_SEEN_JOB = "plan-seen-job"  # dcc.Store: the finished job already opened for comparison
PLAN_SWEEP = "plan-sweep"  # dcc.Dropdown: finished sweeps
PLAN_POINT_A = "plan-point-a"
PLAN_POINT_B = "plan-point-b"
PLAN_COMPARE_MESSAGE = "plan-compare-message"
PLAN_DELTAS = "plan-deltas"  # table: one ``tr.delta-row`` per KPI
PLAN_MAP = "plan-map"  # dcc.Graph: change in mean link speed, B against A
PLAN_KPIS = "plan-kpis"  # a chart per KPI
PLAN_EXPORT = "plan-export"
PLAN_DOWNLOAD = "plan-download"

# live map layers and the Map page (dashboard/live_layers.py, dashboard/pages/map.py)
OPS_LAYER_KEYS = "ops-layer-keys"  # dcc.Store: digests of the marker layers last drawn
OPS_LINK_GEOMETRY = "ops-link-geometry"  # dcc.Store: dashboard.link_state.link_geometry, once
OPS_TICK = "ops-tick"  # dcc.Store: the map's update of the last tick (live_layers.live_update)
MAP_LAYERS = "map-layers"  # dcc.Checklist: dashboard.map_layers.MAP_LAYERS keys shown
MAP_GRAPH = "map-graph"
MAP_NOTES = "map-notes"  # what each layer holds (or why it is empty)
