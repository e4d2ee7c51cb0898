"""The dbt project's own definitions, read where dbt reads them, for the Python side.

A default that dbt applies (a var in dbt_project.yml) is read from there, never restated in
Python: the demo generator plants its treatment with the project's dormant threshold, outcome
window and holdout rule, so a changed var cannot leave the generator and the models disagreeing.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from strata.settings import find_project_dir


@functools.cache
def project_vars(project_dir: Path | None = None) -> dict[str, Any]:
    """The `vars:` block of dbt_project.yml (the project's defaults)."""
    folder = project_dir or find_project_dir()
    return dict(yaml.safe_load((folder / "dbt_project.yml").read_text())["vars"])


def project_var(name: str) -> Any:
    """One var's default from dbt_project.yml; a KeyError names a var the project lacks."""
    return project_vars()[name]
