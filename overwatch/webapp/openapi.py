"""The OpenAPI 3.1 document of the JSON API, built as data (served at ``/api/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any

from overwatch import __version__

__all__ = ["PATHS", "openapi_document"]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ok(description: str, schema: str | None = None) -> dict[str, Any]:
    if schema is None:
        return {
            "description": description,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


_RUN = {"name": "run_number", "in": "path", "required": True, "schema": {"type": "integer"}}
_SUB = {
    "name": "subsystem",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "example": "EMC",
}
_RESULT = {
    "name": "result",
    "in": "query",
    "required": False,
    "schema": {"type": "integer"},
    "description": "A stored time slice or reprocessing instead of the run's current state.",
}
_COMMON = {
    "401": _error("Not logged in and no valid bearer token."),
    "404": _error("No such run, subsystem or object."),
}
_EXPERT = {
    **_COMMON,
    "400": _error("Invalid request; `fields` maps each bad field to its reason."),
    "403": _error("Needs the expert role."),
    "429": _error("Too many of your requests are waiting in the queue (request_queue_quota)."),
}

PATHS: dict[str, Any] = {
    "/runs": {
        "get": {
            "summary": "Runs, newest first, with their subsystems",
            "parameters": [
                {
                    "name": "page",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "default": 1},
                },
                {
                    "name": "per_page",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                },
                {
                    "name": "before",
                    "in": "query",
                    "schema": {"type": "integer"},
                    "description": "Runs older than this run number (keyset; see 'older').",
                },
                {
                    "name": "after",
                    "in": "query",
                    "schema": {"type": "integer"},
                    "description": "Runs newer than this run number (keyset; see 'newer').",
                },
                {
                    "name": "quality",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["bad", "medium", "good", "none"]},
                    "description": "Only runs of this quality (the worst of their subsystems').",
                },
            ],
            "responses": {"200": _ok("One page of runs.", "RunPage"), **_COMMON},
        }
    },
    "/runs/{run_number}": {
        "get": {
            "summary": "One run",
            "parameters": [_RUN],
            "responses": {"200": _ok("The run.", "Run"), **_COMMON},
        }
    },
    "/runs/{run_number}/{subsystem}": {
        "get": {
            "summary": "A subsystem's histogram groups and histograms (metadata and JSON URLs)",
            "parameters": [_RUN, _SUB, _RESULT],
            "responses": {"200": _ok("Groups and histograms."), **_COMMON},
        }
    },
    "/runs/{run_number}/{subsystem}/histogram": {
        "get": {
            "summary": "One histogram as JSROOT JSON (what ROOT's TBufferJSON writes)",
            "description": (
                "The name goes in the query string, so every stored name (with '/', '..', "
                "'%', '#', spaces, ...) arrives unchanged; the older form "
                "/runs/{run_number}/{subsystem}/histograms/{name} answers too for names "
                "without '.' or '..' path segments. Served gzip-compressed when the client "
                "accepts gzip, with a strong ETag; send If-None-Match to get 304 when unchanged."
            ),
            "parameters": [
                _RUN,
                _SUB,
                {"name": "name", "in": "query", "required": True, "schema": {"type": "string"}},
                _RESULT,
            ],
            "responses": {
                "200": _ok("The JSROOT JSON object."),
                "304": {"description": "Unchanged since the ETag sent in If-None-Match."},
                "400": _error("No name, or a number parameter that is not a whole number."),
                "422": _error(
                    "The object could not be converted for JSROOT (see the ROOT file view)."
                ),
                **_COMMON,
            },
        }
    },
    "/runs/{run_number}/{subsystem}/histograms/{name}": {
        "get": {
            "summary": "The older form of /runs/{run_number}/{subsystem}/histogram?name=",
            "description": (
                "The name may contain '/', but browsers, HTTP libraries and proxies rewrite "
                "'.' and '..' path segments: such names are reachable only by the query form."
            ),
            "deprecated": True,
            "parameters": [
                _RUN,
                _SUB,
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                _RESULT,
            ],
            "responses": {"200": _ok("The JSROOT JSON object."), **_COMMON},
        }
    },
    "/runs/{run_number}/{subsystem}/options": {
        "get": {
            "summary": "Processing options the subsystem's plugin accepts (type, range, default)",
            "parameters": [_RUN, _SUB],
            "responses": {"200": _ok("The options."), **_COMMON},
        }
    },
    "/runs/{run_number}/{subsystem}/time-slices": {
        "post": {
            "summary": "Request a time slice (expert)",
            "parameters": [_RUN, _SUB],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/TimeSliceRequest"}
                    }
                },
            },
            "responses": {
                "202": _ok("Queued; poll job_url.", "Queued"),
                "200": _ok("The same request was computed before; result_url serves it."),
                **_EXPERT,
            },
        }
    },
    "/runs/{run_number}/{subsystem}/reprocessings": {
        "post": {
            "summary": "Request a reprocessing of the whole run with other options (expert)",
            "parameters": [_RUN, _SUB],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ReprocessRequest"}
                    }
                },
            },
            "responses": {
                "202": _ok("Queued; poll job_url.", "Queued"),
                "200": _ok("Served from storage."),
                **_EXPERT,
            },
        }
    },
    "/jobs/{job_id}": {
        "get": {
            "summary": "A job's state (queued, running, done, failed, superseded), error and result",
            "parameters": [
                {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {"200": _ok("The job."), **_COMMON},
        }
    },
    "/references": {
        "get": {
            "summary": "Every subsystem's reference runs (the default one has runs null)",
            "responses": {"200": _ok("The references."), "401": _COMMON["401"]},
        }
    },
    "/references/{subsystem}": {
        "put": {
            "summary": "Mark a run as the reference of a subsystem, for every run or a range",
            "parameters": [_SUB],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["run_number"],
                            "properties": {
                                "run_number": {"type": "integer"},
                                "runs": {
                                    "type": ["array", "null"],
                                    "items": {"type": "integer"},
                                    "minItems": 2,
                                    "maxItems": 2,
                                    "description": "First and last run it applies to; "
                                    "null or absent: every run.",
                                },
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": _ok("The reference as stored."),
                "400": _EXPERT["400"],
                "401": _COMMON["401"],
                "403": _EXPERT["403"],
            },
        }
    },
    "/alarms": {
        "get": {
            "summary": "Alarms, open ones first, then the most recently seen",
            "parameters": [
                {
                    "name": "state",
                    "in": "query",
                    "required": False,
                    "schema": {
                        "type": "string",
                        "enum": ["active", "acknowledged", "open", "cleared"],
                    },
                    "description": "active: not cleared nor acknowledged; open: not cleared.",
                },
                {
                    "name": "subsystem",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                },
                {"name": "run", "in": "query", "required": False, "schema": {"type": "integer"}},
            ],
            "responses": {
                "200": _ok("The alarms.", "AlarmList"),
                "400": _error("Invalid filter."),
                "401": _COMMON["401"],
            },
        }
    },
    "/alarms/{alarm_id}/ack": {
        "post": {
            "summary": "Acknowledge an alarm (expert; the first acknowledgement is kept)",
            "parameters": [
                {"name": "alarm_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": _ok("The alarm, acknowledged.", "Alarm"),
                "400": _error("A session call without the CSRF token header."),
                "401": _COMMON["401"],
                "403": _EXPERT["403"],
                "404": _error("No such alarm."),
            },
        }
    },
    "/status": {
        "get": {
            "summary": "Queue, daemons, last files and disk usage per subsystem, running and failed jobs",
            "responses": {
                "200": _ok("Status."),
                "503": _ok("The database is unreachable."),
                "401": _COMMON["401"],
            },
        }
    },
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "status": {"type": "integer"},
                    "reason": {"type": "string"},
                    "fields": {"type": "object"},
                },
                "required": ["status", "reason"],
            }
        },
    },
    "Subsystem": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "quality": {"type": ["string", "null"], "enum": ["good", "medium", "bad", None]},
            "file_count": {"type": "integer"},
            "last_file_time": {"type": "string", "format": "date-time"},
            "length_minutes": {"type": "number"},
            "ongoing": {"type": "boolean"},
        },
    },
    "Run": {
        "type": "object",
        "properties": {
            "run_number": {"type": "integer"},
            "ongoing": {"type": "boolean"},
            "subsystems": {"type": "array", "items": {"$ref": "#/components/schemas/Subsystem"}},
        },
    },
    "RunPage": {
        "type": "object",
        "properties": {
            "page": {"type": ["integer", "null"]},
            "newer": {"type": ["string", "null"], "description": "URL of the next newer page."},
            "older": {"type": ["string", "null"], "description": "URL of the next older page."},
            "pages": {"type": "integer"},
            "total": {"type": "integer"},
            "runs": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}},
        },
    },
    "TimeSliceRequest": {
        "type": "object",
        "required": ["min_minutes", "max_minutes"],
        "properties": {
            "min_minutes": {
                "type": "number",
                "minimum": 0,
                "description": "Minutes after the run's first file.",
            },
            "max_minutes": {"type": "number", "description": "At most the run's length."},
            "options": {"type": "object", "description": "Processing options; see .../options."},
        },
    },
    "Alarm": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "state": {"type": "string", "enum": ["active", "acknowledged", "cleared"]},
            "subsystem": {"type": "string"},
            "run_number": {"type": ["integer", "null"]},
            "histogram": {"type": ["string", "null"]},
            "rule": {"type": "string"},
            "target": {"type": "string"},
            "severity": {"type": "string", "enum": ["warning", "critical"]},
            "message": {"type": "string"},
            "raised_at": {"type": "string", "format": "date-time"},
            "last_seen_at": {"type": "string", "format": "date-time"},
            "count": {"type": "integer"},
            "cleared_at": {"type": ["string", "null"], "format": "date-time"},
            "acknowledged_by": {"type": ["string", "null"]},
            "acknowledged_at": {"type": ["string", "null"], "format": "date-time"},
            "url": {"type": ["string", "null"], "description": "Run page at the histogram."},
            "ack_url": {"type": "string"},
        },
    },
    "AlarmList": {
        "type": "object",
        "properties": {
            "alarms": {"type": "array", "items": {"$ref": "#/components/schemas/Alarm"}}
        },
    },
    "ReprocessRequest": {"type": "object", "properties": {"options": {"type": "object"}}},
    "Queued": {
        "type": "object",
        "properties": {
            "state": {"const": "queued"},
            "job_id": {"type": "integer"},
            "job_url": {"type": "string"},
        },
    },
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Overwatch API",
            "version": __version__,
            "description": "Runs, histograms (JSROOT JSON), time slices, reprocessing, jobs and alarms.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": PATHS,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Token from 'overwatch users token NAME'.",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "overwatch_session"},
            },
        },
    }
