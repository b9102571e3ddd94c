"""The Python API for notebooks and training scripts: ``nanaudit.scan(path, **options)``
audits a dataset folder, ``nanaudit.audit_samples(samples, **options)`` what a training
pipeline yields."""

from __future__ import annotations

import os
from collections.abc import Callable
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

    ``options`` take the config-file keys (``num_classes=19``, ``ignore_index=None`` or
    ``"none"`` for no ignore label, as in :func:`audit_samples`,
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
    from .storage import is_url, local_path

    text = os.fspath(path)
    root: str | Path = text if is_url(text) else Path(local_path(text))
    if isinstance(root, Path) and not root.is_dir():
        raise FileNotFoundError(f"no such directory: {root}")
    plan = plan_for_api(root, Path(config) if config is not None else None, options)
    return run(plan, jobs=jobs, cache_dir=Path(cache_dir) if cache_dir is not None else None)


def audit_samples(
    samples: object,
    *,
    num_classes: int | None = None,
    ignore_index: int | None = 255,
    batch_size: int | None = None,
    max_samples: int | None = None,
    source: str | None = None,
    progress: Callable[[int], None] | None = None,
    **options: Any,
) -> Report:
    """Audit what a training pipeline yields and return the Report the command line renders.

    ``samples`` is a Dataset, a DataLoader, any iterable, or a dict from file names to
    samples; each item an ``(image, mask[, name])`` tuple, a dict (``image_key=``,
    ``mask_key=`` name its keys when they are not the usual ones), or a batch of either
    (a leading batch axis, detected; ``batched=True`` or ``False`` to declare it). Arrays
    are anything ``numpy.asarray`` accepts: numpy arrays, torch or TensorFlow tensors (a
    torch tensor is detached and moved to the CPU), PIL images. Nothing is imported.

    ``max_samples`` samples are drawn (default 500; whole batches), over several passes
    when the pipeline can be iterated again. ``ignore_index=None``: no ignore label.
    ``batch_size`` groups samples yielded one at a time into batches for the batch checks.
    ``options`` take the other config-file keys (``background=``, ``checks={"NA503":
    {"max_abs": 20}}``, ``select=``, ``fail_on=``…); no config file or environment
    variable is read. ``source`` names the pipeline in the report; ``progress`` is called
    with 1 for each sample drawn.

    Raises ``nanaudit.ConfigError`` for a bad option and ``nanaudit.SampleInputError``
    when what the pipeline yields is not samples (an exception the pipeline raises while
    drawing is a finding, NA506).
    """
    from .options import Layer
    from .options import resolve as resolve_options
    from .samples.audit import audit
    from .samples.draw import type_name

    given = {
        "num_classes": num_classes,
        "batch_size": batch_size,
        "max_samples": max_samples,
    }
    values = {k: v for k, v in {**given, **options}.items() if v is not None}
    values["ignore_index"] = ignore_index  # None here means no ignore label
    resolved = resolve_options([Layer("option", values, Path.cwd())])
    return audit(samples, resolved, source=source or type_name(samples), progress=progress)
