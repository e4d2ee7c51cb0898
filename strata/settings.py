"""Every setting of the strata CLI, resolved once, in one stated order.

A setting comes from the first of these that gives it:

1. a command-line flag (the CLI passes only the flags the user gave);
2. an environment variable `STRATA_<NAME>` (`STRATA_RETRIES=4`);
3. the `[strata]` table of `strata.toml`: the file named by `--config`, else `$STRATA_CONFIG`,
   else `./strata.toml` when it exists (`strata.toml.example` lists every key);
4. the default written on the field below, once.

The dbt profile reads a few of the same environment variables itself (`STRATA_DB_PATH`,
`STRATA_THREADS`, `STRATA_MEMORY_LIMIT`, ...); the wrapper passes the resolved warehouse path to
dbt explicitly, so both always agree. Built on pydantic-settings: the precedence, the parsing of
environment values and the validation are the library's; this module only names the sources and
turns a validation error into a sentence that says where the bad value came from.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULT_DB_PATH = Path("warehouse") / "strata.duckdb"
CONFIG_ENV = "STRATA_CONFIG"
ENV_PREFIX = "STRATA_"


class ConfigError(Exception):
    """A setting is missing or wrong; the CLI exits with code 2."""


def find_project_dir() -> Path:
    """The dbt project: $STRATA_PROJECT_DIR, else the checkout this package lives in, else cwd."""
    candidates = []
    if env := os.environ.get("STRATA_PROJECT_DIR"):
        candidates.append(Path(env))
    candidates += [Path(__file__).resolve().parent.parent, Path.cwd()]
    for candidate in candidates:
        if (candidate / "dbt_project.yml").is_file():
            return candidate.resolve()
    raise ConfigError(
        "cannot find the strata dbt project (dbt_project.yml): set STRATA_PROJECT_DIR"
    )


class Settings(BaseSettings):
    """The CLI's settings. Paths are as given; `db`, `state_dir` and friends resolve them."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    raw_dir: str | None = Field(
        None, description="orders (and optional sessions) files", examples=["/data/shop"]
    )
    db_path: str | None = Field(
        None, description="the warehouse [the project's]", examples=["warehouse/strata.duckdb"]
    )
    target: str = Field("duckdb", description="dbt target: duckdb, spark or spark_thrift")
    serving_dir: str | None = Field(
        None, description="published for BI [beside the warehouse]", examples=["/srv/strata"]
    )
    keep_versions: int = Field(3, ge=1, description="published versions kept")
    serving_copies: bool = Field(
        False, description="serving file holds table copies, not views of the Parquet"
    )
    lock_wait_seconds: float = Field(
        0.0, ge=0, description="wait this long for another run's lock (else exit 3)"
    )
    retries: int = Field(2, ge=0, description="retries of transient failures (a held lock...)")
    retry_backoff_seconds: float = Field(
        5.0, ge=0, description="first pause between retries, doubling each time"
    )
    alert_webhook_url: str | None = Field(
        None, description="POST the run as JSON", examples=["https://hooks.example.com/strata"]
    )
    alert_command: str | None = Field(
        None, description="the run as JSON on stdin", examples=["/usr/local/bin/notify"]
    )
    alert_on_success: bool = Field(False, description="alerts always go out on failure")
    schedule_cron: str | None = Field(
        None, description="for `strata schedule` (UTC)", examples=["0 6 * * *"]
    )
    freshness_check: bool = Field(
        True, description="stop when a source is past its error_after age"
    )
    predictions_dir: str | None = Field(
        None,
        description="Spark: exchange folder for predictions [the warehouse's state folder]",
        examples=["/mnt/shared/strata/predictions"],
    )
    spark_master: str = Field(
        "local[*]",
        description="Spark: master URL of the Spark job that fits and scores",
        examples=["yarn"],
    )
    audiences_dir: str | None = Field(
        None,
        description="audience definitions, audiences/*.yml [the project's audiences/]",
        examples=["/srv/shop/audiences"],
    )
    dbt_vars: dict[str, Any] = Field(
        default_factory=dict,
        description="dbt vars for every run; --vars wins",
        examples=[{"churn_after_days": 120}],
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags (init), then the environment, then strata.toml; no .env or secrets files.
        return init_settings, env_settings, _TomlTable(settings_cls, _CONFIG_FILE.get())

    # ---- derived locations ------------------------------------------------------------------

    @property
    def project_dir(self) -> Path:
        return find_project_dir()

    @property
    def db(self) -> Path:
        """The warehouse file: a path the user gave is relative to where they are; the default
        lives in the project."""
        if self.db_path:
            return Path(self.db_path).expanduser().resolve()
        return self.project_dir / DEFAULT_DB_PATH

    @property
    def engine(self) -> str:
        """`spark` for the profile's Spark targets (named spark...), else `duckdb`."""
        return "spark" if self.target.startswith("spark") else "duckdb"

    @property
    def state_dir(self) -> Path:
        """The lock, the run history and the build record of this warehouse (not of its folder:
        two warehouses side by side never share them)."""
        return self.db.parent / ".strata" / self.db.stem

    @property
    def history_file(self) -> Path:
        return self.state_dir / "runs.jsonl"

    @property
    def audiences_folder(self) -> Path:
        """The audience definitions (docs/audiences.md): audiences_dir, else the project's."""
        if self.audiences_dir:
            return Path(self.audiences_dir).expanduser().resolve()
        return self.project_dir / "audiences"

    @property
    def serving(self) -> Path:
        """Where this warehouse's marts are published for BI readers."""
        if self.serving_dir:
            return Path(self.serving_dir).expanduser().resolve()
        return self.db.parent / "serving" / self.db.stem


class _ConfigFile:
    """The strata.toml in force while settings load (a source cannot take arguments)."""

    path: Path | None = None

    def get(self) -> Path | None:
        return self.path


_CONFIG_FILE = _ConfigFile()


class _TomlTable(PydanticBaseSettingsSource):
    """The `[strata]` table of strata.toml; other tables and unknown keys are errors."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path
        self.values: dict[str, Any] = {}
        if path is None:
            return
        try:
            document = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from error
        unknown = sorted(set(document) - {"strata"})
        table = document.get("strata", {})
        unknown += sorted(set(table) - set(settings_cls.model_fields))
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s): {', '.join(unknown)}")
        self.values = dict(table)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


def config_file(config: Path | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The strata.toml to read: `--config`, else $STRATA_CONFIG, else ./strata.toml if present.
    A file named explicitly must exist; $STRATA_CONFIG naming a missing file reads none."""
    environ = os.environ if environ is None else environ
    if config is not None:
        if not config.is_file():
            raise ConfigError(f"{config}: no such settings file")
        return config
    if environ.get(CONFIG_ENV):
        named = Path(environ[CONFIG_ENV])
        return named if named.is_file() else None
    default = Path("strata.toml")
    return default if default.is_file() else None


def load_settings(config: Path | None = None, **flags: Any) -> Settings:
    """Resolve every setting: flags (None means not given), then STRATA_* environment variables,
    then strata.toml, then the defaults. Raises ConfigError naming the source of a bad value."""
    given = {name: value for name, value in flags.items() if value is not None}
    path = config_file(config)
    _CONFIG_FILE.path = path
    try:
        return Settings(**given)
    except ValidationError as error:
        raise ConfigError(_explain(error, given, path)) from None
    finally:
        _CONFIG_FILE.path = None


def check_db_path(settings: Settings) -> None:
    """Raise ConfigError (exit 2) when the warehouse cannot live where it is asked to: a path
    under a regular file (`--db some_file/x.duckdb`), or a warehouse path that is a folder. A
    configuration error, said before any run starts, rather than a traceback from the first
    folder strata makes (which under `strata schedule` left the run unrecorded)."""
    db = settings.db
    if db.is_dir():
        raise ConfigError(
            f"warehouse path {db} is a folder; give a file such as {db / 'strata.duckdb'}"
        )
    for parent in db.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(
                    f"warehouse path {db} lies under {parent}, which is a file, not a folder"
                )
            return


def _explain(error: ValidationError, flags: Mapping[str, Any], path: Path | None) -> str:
    """One line per bad value: where it came from (flag, environment, file), the value, why."""
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else "?"
        variable = f"{ENV_PREFIX}{name.upper()}"
        if name in flags:
            where = f"--{name.replace('_', '-')}"
        elif os.environ.get(variable, "") != "":
            where = f"environment variable {variable}"
        elif path is not None:
            where = str(path)
        else:
            where = "settings"
        if problem["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown setting {name}")
        else:
            lines.append(f"{where}: {name} = {problem['input']!r}: {problem['msg']}")
    return "; ".join(lines)


def example_toml() -> str:
    """strata.toml.example, written from the fields above: every key, its default, its meaning."""
    lines = [
        "# strata.toml: settings for the strata CLI. Environment variables (STRATA_<KEY>, upper",
        "# case) win over this file, and command-line flags win over both.",
        "[strata]",
    ]
    for name, field in Settings.model_fields.items():
        empty = field.default is None or field.default_factory is not None
        value = field.examples[0] if empty and field.examples else field.default
        entry = f"# {name} = {_toml_value(value)}"
        lines.append(f"{entry:<44} # {field.description}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        items = ", ".join(f"{key} = {_toml_value(item)}" for key, item in value.items())
        return "{ " + items + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return f'"{value}"'
