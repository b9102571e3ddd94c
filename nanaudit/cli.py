"""The command line. The only module that prints or decides the exit code.

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 usage,
configuration or internal error (one line on stderr; a traceback only with --debug);
130 interrupted; 141 stdout closed by its reader (`| head`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import stat
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from . import baseline as baseline_mod
from .cache import default_cache_dir
from .checks.registry import all_checks, get_check
from .config import ConfigError, load_settings
from .discovery import DiscoveryError, SplitSpec
from .formats import Format, RenderOptions, render_chunks, summary_line
from .runner import tune_allocator, usable_cpus

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141


class UsageFailure(click.ClickException):
    """A usage, configuration or internal error: one line on stderr, exit 2."""

    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"nanaudit: error: {self.format_message()}", err=True)


class OutputClosed(Exception):
    """The reader of stdout went away (`| head`); click would call that exit code 1."""


F = TypeVar("F", bound=Callable[..., Any])


def guarded(func: F) -> F:
    """Turn every failure below the command line into one line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (
            click.ClickException,
            SystemExit,
            KeyboardInterrupt,
            click.exceptions.Abort,
            OutputClosed,
        ):
            raise
        except (ConfigError, DiscoveryError) as exc:
            raise UsageFailure(str(exc)) from None
        except Exception as exc:
            if kwargs.get("debug"):
                traceback.print_exc()
            hint = "" if kwargs.get("debug") else " (run with --debug for a traceback)"
            raise UsageFailure(f"internal error: {type(exc).__name__}: {exc}{hint}") from None

    return wrapper  # type: ignore[return-value]


def _parse_split(text: str) -> SplitSpec:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise UsageFailure(f"--split expects NAME:IMAGES[:MASKS], got {text!r}")
    masks = Path(parts[2]) if len(parts) == 3 and parts[2] else None
    return SplitSpec(parts[0], Path(parts[1]), masks)


def _parse_output(text: str) -> tuple[Format, Path]:
    head, sep, tail = text.partition(":")
    if sep and head.lower() in {f.value for f in Format} and tail:
        return Format(head.lower()), Path(tail)
    return Format.JSON, Path(text)


def _write_atomic(path: Path, chunks: str | Iterable[str]) -> None:
    """Write to a temporary file beside ``path``, then rename: never a half-written report."""
    tmp = path.with_name(f".{path.name}.nanaudit-tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            for chunk in [chunks] if isinstance(chunks, str) else chunks:
                fh.write(chunk)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageFailure(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="nanaudit")
def cli() -> None:
    """Audit segmentation datasets for the defects that turn the loss into NaN."""


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=Path, readable=False))
@click.option("--images", type=click.Path(path_type=Path), help="Image folder (with --masks).")
@click.option("--masks", type=click.Path(path_type=Path), help="Mask folder (with --images).")
@click.option(
    "--split",
    "splits",
    multiple=True,
    metavar="NAME:IMAGES[:MASKS]",
    help="A split given explicitly; repeatable. Without MASKS the split is unlabeled.",
)
@click.option(
    "--layout",
    "layout",
    metavar="NAME",
    envvar="NANAUDIT_LAYOUT",
    help="A layout preset (voc, cityscapes, ade20k, coco-stuff, camvid, oxford-pet, "
    "generic) instead of detecting it; `nanaudit layouts` lists them.",
)
@click.option(
    "--label-encoding",
    metavar="NAME",
    help="A preset's other label encoding (cityscapes: trainIds or labelIds).",
)
@click.option(
    "--label-offset",
    type=int,
    metavar="N",
    help="Add N to every label but the ignore index before the checks (pets: -1).",
)
@click.option(
    "--reduce-zero-label/--no-reduce-zero-label",
    default=None,
    help="Map label 0 to the ignore index and shift the rest down by one (ADE20K).",
)
@click.option(
    "--pair-key",
    metavar="REGEX",
    envvar="NANAUDIT_PAIR_KEY",
    help="Regex whose group 1, searched in a file's stem, pairs images and masks.",
)
@click.option(
    "-C",
    "--num-classes",
    type=int,
    envvar="NANAUDIT_NUM_CLASSES",
    help="Number of classes C; labels must lie in [0, C) or be the ignore index.",
)
@click.option(
    "--ignore-index",
    metavar="N|none",
    envvar="NANAUDIT_IGNORE_INDEX",
    help="Ignore label (default 255); 'none' disables it.",
)
@click.option(
    "--background",
    metavar="N|none",
    envvar="NANAUDIT_BACKGROUND",
    help="Background label (default 0); 'none' disables it.",
)
@click.option(
    "--class-names",
    "class_names_file",
    type=click.Path(path_type=Path),
    help="File with one class name per line (class 0 first).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    envvar="NANAUDIT_BATCH_SIZE",
    help="Training batch size: NA308 checks the size of the last batch.",
)
@click.option(
    "--drop-last",
    is_flag=True,
    default=None,
    help="The training DataLoader drops the last incomplete batch.",
)
@click.option(
    "--unlabeled",
    "unlabeled",
    multiple=True,
    metavar="SPLIT",
    help="Declare a split unlabeled: missing masks there are info. Repeatable.",
)
@click.option(
    "--max-pixels",
    type=int,
    envvar="NANAUDIT_MAX_PIXELS",
    help="Refuse to decode images with more pixels than this (NA002).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    envvar="NANAUDIT_CONFIG",
    help="Config file (default: nearest nanaudit.toml or pyproject.toml [tool.nanaudit]).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", *[f.value for f in Format]]),
    default="auto",
    show_default=True,
    envvar="NANAUDIT_FORMAT",
    help="What to print on stdout. auto: github annotations plus the terminal report "
    "under GITHUB_ACTIONS=true, else rich.",
)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="[FORMAT:]FILE",
    help="Also write a report file (JSON unless FORMAT: is given). Repeatable.",
)
@click.option(
    "--select",
    "select",
    multiple=True,
    metavar="PREFIXES",
    help="Run only checks whose ID starts with one of these (comma-separated; repeatable).",
)
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="PREFIXES",
    help="Skip checks whose ID starts with one of these; the longest matching prefix "
    "of --select and --ignore wins.",
)
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(path_type=Path),
    help="Hide the findings recorded in this baseline; fail only on new ones.",
)
@click.option(
    "--write-baseline",
    "write_baseline",
    type=click.Path(path_type=Path),
    help="Record the current findings as the baseline in this file.",
)
@click.option(
    "--max-annotations",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="github format: annotations before the rest is listed in the log.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info", "never"]),
    envvar="NANAUDIT_FAIL_ON",
    help="Lowest severity that makes the exit code 1 (default error).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    envvar="NANAUDIT_JOBS",
    help="Worker processes for decoding (default: the usable CPUs).",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    envvar="NANAUDIT_CACHE_DIR",
    help="Where per-file records are cached (default: the user cache folder).",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@click.option("-v", "--verbose", is_flag=True, help="List every file of every finding.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option(
    "--color/--no-color", default=None, help="Force colour on or off (NO_COLOR is honoured)."
)
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@guarded
def scan(
    path: Path | None,
    images: Path | None,
    masks: Path | None,
    splits: tuple[str, ...],
    layout: str | None,
    label_encoding: str | None,
    label_offset: int | None,
    reduce_zero_label: bool | None,
    pair_key: str | None,
    num_classes: int | None,
    ignore_index: str | None,
    background: str | None,
    class_names_file: Path | None,
    batch_size: int | None,
    drop_last: bool | None,
    unlabeled: tuple[str, ...],
    max_pixels: int | None,
    config_file: Path | None,
    fmt: str,
    outputs: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    baseline_file: Path | None,
    write_baseline: Path | None,
    max_annotations: int,
    fail_on: str | None,
    jobs: int | None,
    cache_dir: Path | None,
    no_cache: bool,
    verbose: bool,
    no_progress: bool,
    color: bool | None,
    debug: bool,
) -> None:
    """Scan a dataset folder: pair images and masks, decode each file once, check them."""
    from .engine import scan_path

    root = path if path is not None else Path(".")
    try:
        st = os.stat(root)
    except FileNotFoundError:
        raise UsageFailure(f"path does not exist: {root}") from None
    except OSError as exc:
        raise UsageFailure(f"cannot read {root}: {(exc.strerror or str(exc)).lower()}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UsageFailure(f"not a directory: {root}")
    if not os.access(root, os.R_OK | os.X_OK):
        raise UsageFailure(f"cannot read directory {root}: permission denied")
    explicit = [_parse_split(s) for s in splits]
    if (images is None) != (masks is None):
        if images is None:
            raise UsageFailure("--masks needs --images")
        explicit.insert(0, SplitSpec("all", images, None))
    elif images is not None:
        explicit.insert(0, SplitSpec("all", images, masks))
    overrides: dict[str, Any] = {
        "num_classes": num_classes,
        "ignore_index": ignore_index,
        "background": background,
        "fail_on": fail_on,
        "pair_key": pair_key,
        "max_pixels": max_pixels,
        "unlabeled_splits": list(unlabeled) or None,
        "select": list(select) or None,
        "layout": layout,
        "label_encoding": label_encoding,
        "label_offset": label_offset,
        "reduce_zero_label": reduce_zero_label,
        "class_names_file": str(class_names_file) if class_names_file else None,
        "batch_size": batch_size,
        "drop_last": drop_last,
        "ignore": list(ignore) or None,
    }
    settings = load_settings(root, config_file, overrides)
    if explicit:
        from dataclasses import replace

        settings = replace(settings, splits=tuple(explicit))
    targets = [_parse_output(o) for o in outputs]
    baseline = None
    if baseline_file is not None:
        try:
            baseline = (baseline_file.as_posix(), baseline_mod.load(baseline_file))
        except baseline_mod.BaselineError as exc:
            raise UsageFailure(str(exc)) from None

    show_progress = not no_progress and sys.stderr.isatty()
    bar: Any = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="file", file=sys.stderr, leave=False, dynamic_ncols=True)

    def on_total(n: int) -> None:
        if bar is not None:
            bar.reset(total=n)

    try:
        report = scan_path(
            root,
            settings,
            progress=bar.update if bar else None,
            on_total=on_total,
            baseline=baseline,
            jobs=jobs or usable_cpus(),
            cache_dir=None if no_cache else (cache_dir or default_cache_dir()),
        )
    finally:
        if bar is not None:
            bar.close()

    if write_baseline is not None:
        _write_atomic(write_baseline, baseline_mod.dumps([*report.findings, *report.baselined]))
    file_options = RenderOptions(verbose=verbose, max_annotations=max_annotations)
    for target_fmt, target in targets:
        _write_atomic(target, render_chunks(report, target_fmt, file_options))
    if fmt == "auto":
        in_actions = os.environ.get("GITHUB_ACTIONS") == "true"
        stdout_formats = [Format.GITHUB, Format.RICH] if in_actions else [Format.RICH]
    else:
        stdout_formats = [Format(fmt)]
    use_color = (
        color if color is not None else (sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    )
    width = None
    if sys.stdout.isatty():
        width = min(shutil.get_terminal_size().columns, 120)
    options = RenderOptions(
        verbose=verbose, width=width, color=use_color, max_annotations=max_annotations
    )
    try:
        for stdout_format in stdout_formats:
            for chunk in render_chunks(report, stdout_format, options):
                click.echo(chunk, nl=False)
    except BrokenPipeError:
        raise OutputClosed from None
    if Format.RICH not in stdout_formats:
        click.echo(summary_line(report), err=True)
    raise SystemExit(report.exit_code)


@cli.command()
@click.argument("check_id")
def explain(check_id: str) -> None:
    """Print what a check looks for, why it breaks training, and how to fix it."""
    spec = get_check(check_id)
    if spec is None:
        raise UsageFailure(f"unknown check {check_id!r}; `nanaudit checks` lists them")
    click.echo(f"{spec.id} {spec.name} (default severity: {spec.severity.label})\n")
    click.echo(spec.doc)
    if spec.options:
        click.echo("\nOptions (config: [tool.nanaudit.checks." + spec.id + "]):")
        for key, value in spec.options.items():
            click.echo(f"  {key} = {value!r}")


@cli.command("layouts")
def list_layouts() -> None:
    """List the layout presets: what each expects on disk and its label convention."""
    from .presets import PRESETS

    for p in PRESETS.values():
        click.echo(f"{p.name}\n  expects: {p.expects}\n  labels:  {p.labels}")


@cli.command("checks")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def list_checks(fmt: str) -> None:
    """List every check: ID, name, default severity and what fires it."""
    specs = all_checks()
    if fmt == "json":
        rows = [
            {"id": s.id, "name": s.name, "severity": s.severity.label, "summary": s.summary}
            for s in specs
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for s in specs:
        click.echo(f"{s.id}  {s.name:<24} {s.severity.label:<8} {s.summary}")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    tune_allocator()
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="nanaudit", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_ERROR
    except click.exceptions.Abort:
        click.echo("nanaudit: interrupted", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("nanaudit: interrupted", err=True)
        return EXIT_INTERRUPTED
    except click.UsageError as exc:
        # one line, like every other error; the command's --help has the rest
        command = exc.ctx.command_path if exc.ctx is not None else "nanaudit"
        click.echo(f"nanaudit: error: {exc.format_message()} (see {command} --help)", err=True)
        return EXIT_ERROR
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR
    except (BrokenPipeError, OutputClosed):
        # the reader of stdout went away (`| head`): say nothing more, as a tool killed by
        # SIGPIPE would, and keep Python from complaining when it flushes stdout at exit
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if debug:
            traceback.print_exc()
        click.echo(
            f"nanaudit: internal error: {type(exc).__name__}: {exc}"
            + ("" if debug else " (run with --debug for a traceback)"),
            err=True,
        )
        return EXIT_ERROR
    return EXIT_OK
