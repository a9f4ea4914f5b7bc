"""The Grafana dashboard in deploy/ asks only for metrics Overwatch exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def test_every_metric_of_the_dashboard_is_exported() -> None:
    dashboard = json.loads((REPO / "deploy" / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    names = {name for expr in exprs for name in re.findall(r"\boverwatch_[a-z_]+", expr)}
    source = "".join(p.read_text() for p in (REPO / "overwatch" / "metrics").glob("*.py"))
    docs = (REPO / "docs" / "operations.md").read_text()
    for name in names:
        base = re.sub(r"_(bucket|total|count|sum)$", "", name)
        assert f'"{base}"' in source, f"{name} is not exported"
        assert base in docs, f"{name} is not documented in docs/operations.md"
    assert len(names) >= 10
