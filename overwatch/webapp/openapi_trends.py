"""The trends part of the OpenAPI document (merged into :mod:`overwatch.webapp.openapi`)."""

from __future__ import annotations

from typing import Any

__all__ = ["TREND_PATHS", "TREND_SCHEMAS"]

_SUB = {"name": "subsystem", "in": "path", "required": True, "schema": {"type": "string"},
        "example": "TPC"}  # fmt: skip
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
         "example": "dca_r"}  # fmt: skip
_BOUND = (
    "A run number (whole number: runs from/up to it) or an ISO 8601 time "
    "(UTC when no offset is given), inclusive."
)


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json("Error")}


TREND_PATHS: dict[str, Any] = {
    "/trends/": {
        "get": {
            "summary": "Subsystems with trends",
            "responses": {
                "200": {
                    "description": "Subsystems",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
    "/trends/{subsystem}": {
        "get": {
            "summary": "The trends of a subsystem, each with the URL of its points",
            "parameters": [_SUB],
            "responses": {
                "200": {"description": "Trends", "content": _json("TrendList")},
                "401": _error("Not logged in and no valid bearer token."),
                "404": _error("No trends for this subsystem."),
            },
        }
    },
    "/trends/{subsystem}/{name}": {
        "get": {
            "summary": "The points of one trend, by time or by run number, with its limits",
            "parameters": [
                _SUB,
                _NAME,
                {
                    "name": "x",
                    "in": "query",
                    "schema": {"enum": ["time", "run"], "default": "time"},
                    "description": "time: every processing, in time order; "
                    "run: the last value of each run, in run order.",
                },
                {
                    "name": "since",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": _BOUND,
                },
                {
                    "name": "until",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": _BOUND,
                },
                {
                    "name": "format",
                    "in": "query",
                    "schema": {"enum": ["json", "csv"], "default": "json"},
                    "description": "csv: run_number,time,value rows.",
                },
            ],
            "responses": {
                "200": {
                    "description": "Points (JSON), or CSV with format=csv",
                    "content": {**_json("TrendPoints"), "text/csv": {"schema": {"type": "string"}}},
                },
                "400": _error("A bad x, format, since or until; the reason names it."),
                "401": _error("Not logged in and no valid bearer token."),
                "404": _error("No such subsystem or trend."),
            },
        }
    },
}

_LIMIT = {
    "type": "object",
    "properties": {
        "low": {"type": ["number", "null"]},
        "high": {"type": ["number", "null"]},
        "severity": {"enum": ["warning", "critical"]},
        "source": {"type": "string", "description": "Where the limit is defined."},
    },
}

TREND_SCHEMAS: dict[str, Any] = {
    "TrendList": {
        "type": "object",
        "properties": {
            "subsystem": {"type": "string"},
            "trends": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "title": {"type": "string"},
                        "kind": {"type": ["string", "null"]},
                        "histogram": {"type": ["string", "null"]},
                        "configured": {"type": "boolean"},
                        "points": {"type": "integer"},
                        "last_time": {"type": ["string", "null"], "format": "date-time"},
                        "last_run": {"type": ["integer", "null"]},
                        "url": {"type": "string"},
                        "csv_url": {"type": "string"},
                        "limits": {"type": "array", "items": _LIMIT},
                    },
                },
            },
        },
    },
    "TrendPoints": {
        "type": "object",
        "properties": {
            "subsystem": {"type": "string"},
            "name": {"type": "string"},
            "title": {"type": "string"},
            "x": {"enum": ["time", "run"]},
            "points": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "run_number": {"type": "integer"},
                        "time": {"type": "string", "format": "date-time"},
                        "value": {"type": "number"},
                    },
                },
            },
            "limits": {"type": "array", "items": _LIMIT},
        },
    },
}
