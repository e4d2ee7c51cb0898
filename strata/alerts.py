"""Alerts: a run's record as JSON to a webhook and/or a command, on failure (and on success if
asked). Delivery problems are returned, never raised: an alert must not change a run's outcome."""

from __future__ import annotations

import json
import shlex
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from strata.runs import RunRecord


@dataclass(frozen=True)
class AlertConfig:
    webhook_url: str | None = None
    command: str | None = None
    on_success: bool = False


def build_payload(record: RunRecord, project: str = "strata") -> dict:
    succeeded = record.status == "success"
    summary = (
        f"{project} {record.command} {record.status} (exit {record.exit_code})"
        f" as of {record.as_of_date}: {record.models_passed} models, "
        f"{record.tests_passed} tests passed, {record.tests_failed} failed"
        + (f"; {record.message}" if record.message else "")
    )
    return {
        "project": project,
        "event": "run_succeeded" if succeeded else "run_failed",
        "run": record.to_dict(),
        "summary": summary,
    }


def _post(url: str, body: bytes) -> str | None:
    problem = None
    for _attempt in range(2):
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                if response.status < 300:
                    return None
                problem = f"webhook {url} answered {response.status}"
        except urllib.error.HTTPError as error:
            problem = f"webhook {url} answered {error.code}"
            if error.code < 500:
                return problem
        except (urllib.error.URLError, OSError) as error:
            problem = f"webhook {url} unreachable: {error}"
    return problem


def send_alerts(config: AlertConfig, payload: dict, succeeded: bool) -> list[str]:
    if succeeded and not config.on_success:
        return []
    body = json.dumps(payload, default=str).encode()
    problems = []
    if config.webhook_url:
        problem = _post(config.webhook_url, body)
        if problem:
            problems.append(problem)
    if config.command:
        try:
            done = subprocess.run(
                shlex.split(config.command), input=body, capture_output=True, timeout=30
            )
            if done.returncode != 0:
                problems.append(f"alert command exited {done.returncode}: {config.command}")
        except (OSError, subprocess.TimeoutExpired) as error:
            problems.append(f"alert command failed: {error}")
    return problems
