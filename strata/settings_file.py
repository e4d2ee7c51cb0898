"""Settings from `strata.toml` and STRATA_* environment variables, the environment winning.

The file is `--config`, else $STRATA_CONFIG, else ./strata.toml when it exists; keys live under a
`[strata]` table. Command-line flags win over both (the CLI applies them).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path


class SettingsError(ValueError):
    """A setting has an unknown name or a value of the wrong kind."""


@dataclass(frozen=True)
class FileSettings:
    raw_dir: str | None = None
    db_path: str | None = None
    target: str | None = None
    serving_dir: str | None = None
    keep_versions: int | None = None
    lock_wait_seconds: float | None = None
    retries: int | None = None
    retry_backoff_seconds: float | None = None
    alert_webhook_url: str | None = None
    alert_command: str | None = None
    alert_on_success: bool | None = None
    schedule_cron: str | None = None
    freshness_check: bool | None = None


_KINDS = {
    "keep_versions": int,
    "lock_wait_seconds": float,
    "retries": int,
    "retry_backoff_seconds": float,
    "alert_on_success": bool,
    "freshness_check": bool,
}

EXAMPLE_TOML = """\
# strata.toml: settings for the strata CLI. Environment variables (STRATA_<KEY>, upper case)
# win over this file, and command-line flags win over both.
[strata]
# raw_dir = "/data/shop"                  # folder with orders and sessions (.parquet or .csv)
# db_path = "warehouse/strata.duckdb"     # the warehouse DuckDB file
# target = "duckdb"                       # dbt target
# serving_dir = "warehouse/serving"       # where marts are published for BI readers
# keep_versions = 3                       # published versions kept
# lock_wait_seconds = 0                   # wait this long for another run's lock (else exit 3)
# retries = 2                             # retries of transient failures (a held file lock...)
# retry_backoff_seconds = 5               # first pause between retries, doubling each time
# alert_webhook_url = "https://hooks.example.com/strata"   # POST the run as JSON
# alert_command = "/usr/local/bin/notify-team"             # the run as JSON on stdin
# alert_on_success = false                # alerts always go out on failure
# schedule_cron = "0 6 * * *"             # for `strata schedule` (UTC)
# freshness_check = true                  # stop when a source is past its error_after age
"""


def _convert(name: str, value: object, where: str) -> object:
    kind = _KINDS.get(name, str)
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
    elif kind is int:
        try:
            if not isinstance(value, bool):
                return int(str(value))
        except ValueError:
            pass
    elif kind is float:
        try:
            if not isinstance(value, bool):
                return float(str(value))
        except ValueError:
            pass
    elif isinstance(value, str):
        return value
    raise SettingsError(f"{where}: {name} = {value!r} is not a valid {kind.__name__}")


def load_file_settings(
    path: Path | None = None, environ: Mapping[str, str] | None = None
) -> FileSettings:
    environ = os.environ if environ is None else environ
    names = [field.name for field in fields(FileSettings)]
    values: dict[str, object] = {}
    file = path or (Path(environ["STRATA_CONFIG"]) if environ.get("STRATA_CONFIG") else None)
    if file is None and Path("strata.toml").is_file():
        file = Path("strata.toml")
    if file is not None and file.is_file():
        try:
            document = tomllib.loads(file.read_text())
        except tomllib.TOMLDecodeError as error:
            raise SettingsError(f"{file}: not valid TOML: {error}") from error
        section = document.get("strata", {})
        unknown = sorted(set(document) - {"strata"}) + sorted(set(section) - set(names))
        if unknown:
            raise SettingsError(f"{file}: unknown setting(s): {', '.join(unknown)}")
        for name, value in section.items():
            values[name] = _convert(name, value, str(file))
    elif path is not None:
        raise SettingsError(f"{path}: no such settings file")
    for name in names:
        variable = f"STRATA_{name.upper()}"
        if environ.get(variable, "") != "":
            values[name] = _convert(name, environ[variable], f"environment variable {variable}")
    return FileSettings(**values)
