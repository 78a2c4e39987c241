"""``kota evaluate-forecast``: score the forecaster against the baselines on a sensor history.

    kota evaluate-forecast [--data PATH] [--adjacency PATH] [--fit-rows N] [--start TIME] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``evaluate-forecast`` on the ``kota`` sub-command parser."""
    p = sub.add_parser(
        "evaluate-forecast", help="score the 15/30/60-min forecaster against the baselines (METR-LA)",
        description="Fit the sensor forecaster on the first --fit-rows rows of a speed history, "
        "issue forecasts at every later row t from the rows up to t, and print MAE and RMSE "
        "per horizon for the model, the last-value baseline and the historical average.",
    )
    p.add_argument("--data", type=Path, default=None,
                   help="speed CSV: a header of sensor ids, one row per 5 minutes (default: "
                   "data/sensors/metr-la/los_speed.csv[.gz], else ../shared/data/sensors/metr-la/)")
    p.add_argument("--adjacency", type=Path, default=None,
                   help="sensor adjacency CSV (default: adj_mx_dcrnn.csv[.gz] or los_adj.csv "
                   "beside --data, if any)")
    p.add_argument("--fit-rows", type=int, default=None, help="rows used to fit (default 1612)")
    p.add_argument("--start", default=None,
                   help="local time of row 0 (default 2012-03-01T00:00, the METR-LA week)")
    p.add_argument("--step-s", type=int, default=300, help="seconds between rows (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run(args: argparse.Namespace) -> int:
    """Execute ``kota evaluate-forecast``; the exit code."""
    import numpy as np

    from .calendar import RowCalendar
    from .evaluation import evaluate_forecasts
    from .sensor_data import (
        METR_LA_FIT_ROWS,
        METR_LA_START,
        adjacency_beside,
        default_metr_la_speed_path,
        load_adjacency,
        load_sensor_history,
    )

    data = args.data or default_metr_la_speed_path()
    try:
        history = load_sensor_history(data)
    except FileNotFoundError as exc:
        raise ValueError(f"{exc}; give the speed CSV with --data") from None
    adj_path = args.adjacency or adjacency_beside(data)
    n_sensors = history.values.shape[1]
    adjacency = None if adj_path is None else load_adjacency(adj_path, n_sensors)
    try:
        start = np.datetime64(args.start or METR_LA_START)
    except ValueError:
        raise ValueError(f"--start {args.start!r} is not a time such as 2012-03-01T00:00") from None
    calendar = RowCalendar(start, step_s=args.step_s)
    result = evaluate_forecasts(history.values, calendar, adjacency,
                                fit_rows=METR_LA_FIT_ROWS if args.fit_rows is None else args.fit_rows)
    if args.json:
        out = result.to_dict()
        out.update(data=str(data), adjacency=None if adj_path is None else str(adj_path),
                   missing_fields=history.missing_fields, nonpositive_values=history.nonpositive_values)
        print(json.dumps(out, sort_keys=True))
        return 0
    print(f"data: {data}\nadjacency: {adj_path or 'none (no neighbour terms)'}")
    if history.missing_fields or history.nonpositive_values:
        print(f"read as missing: {history.missing_fields} empty or non-numeric fields, "
              f"{history.nonpositive_values} values <= 0")
    print(result.format_table())
    return 0
