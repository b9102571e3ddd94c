"""The Python API: ``nanaudit.scan(path, **options)`` for notebooks and training scripts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .report import Report


def scan(
    path: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | None = None,
    jobs: int = 1,
    cache_dir: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Report:
    """Scan a dataset folder (or an fsspec URL: ``s3://bucket/prefix``, with
    ``storage_options={...}``) and return the Report the command line renders.

    ``options`` take the config-file keys (``num_classes=19``, ``ignore_index="none"``,
    ``checks={"NA104": {"severity": "error"}}``…) and win over the config file; the
    environment's ``NANAUDIT_*`` variables are not read. ``jobs`` worker processes decode
    the files (1: this process); records are cached in ``cache_dir`` when one is given (the
    command line caches by default, the API does not). The calling process is left as it
    was found (no environment variable or library global is changed).

    Raises ``FileNotFoundError`` for a missing path, ``nanaudit.ConfigError`` for a bad
    option and ``nanaudit.DiscoveryError`` when no layout is found.
    """
    from .pipeline import run
    from .plan import plan_for_api
    from .storage import is_url

    root: str | Path = os.fspath(path) if is_url(os.fspath(path)) else Path(path)
    if isinstance(root, Path) and not root.is_dir():
        raise FileNotFoundError(f"no such directory: {root}")
    plan = plan_for_api(root, Path(config) if config is not None else None, options)
    return run(plan, jobs=jobs, cache_dir=Path(cache_dir) if cache_dir is not None else None)
