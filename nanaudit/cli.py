"""The command line: ``main(argv) -> int``. The only module that prints or decides the exit
code; every flag of ``scan`` comes from the options table (options.py).

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
import signal
import stat
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import baseline as baseline_mod
from .kinds import Bool, ConfigError, shown_path
from .layouts import DiscoveryError
from .options import GROUPS, Layer, Option, Options, environment_layer, table
from .options import resolve as resolve_options
from .samples import SampleInputError
from .version import __version__

if TYPE_CHECKING:
    from .report import Report
    from .shards import Partial

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 2, 130, 141
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job, ``timeout``, ``kill``): the command stops as Ctrl-C stops
    it, so that what it holds on disk (the record store, a half-written report) is removed;
    without a handler Python dies at once and leaves them."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    """SIGTERM raises Terminated in the main thread while the command runs."""
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: the embedding program decides
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stopped(exc: BaseException) -> int:
    """Exit code and message of a command stopped by Ctrl-C or SIGTERM."""
    if isinstance(exc, Terminated) or isinstance(exc.__context__, Terminated):
        click.echo("nanaudit: terminated", err=True)
        return EXIT_TERMINATED
    click.echo("nanaudit: interrupted", err=True)
    return EXIT_INTERRUPTED


def safe_line(text: str) -> str:
    """``text`` as one line on stderr, whatever a folder or class name in it holds, and
    never a CI workflow command (a runner logs stderr too)."""
    from .formats.base import command_safe
    from .paths import printable

    return command_safe(printable(text))


def error_line(message: str) -> str:
    """The one form of every error nanaudit reports: ``nanaudit: error: …`` on one line,
    without a credential a library's message may quote."""
    from .storage import without_credentials

    return f"nanaudit: error: {safe_line(without_credentials(message))}"


def internal_error(exc: BaseException, debug: bool) -> str:
    """An exception nothing expected, as the one line that reports it."""
    hint = "" if debug else " (run with --debug for a traceback)"
    return f"internal error: {type(exc).__name__}: {exc}{hint}"


class UsageFailure(click.ClickException):
    """A usage, configuration or internal error: one line on stderr, exit 2."""

    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(error_line(self.format_message()), err=True)


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
        except (ConfigError, DiscoveryError, SampleInputError) as exc:
            raise UsageFailure(str(exc)) from None
        except Exception as exc:
            if kwargs.get("debug"):
                traceback.print_exc()
            raise UsageFailure(internal_error(exc, bool(kwargs.get("debug")))) from None

    return wrapper  # type: ignore[return-value]


def _write(path: Path, chunks: str | Iterable[str]) -> None:
    from .output import STDOUT, OutputError, write_output

    if path == STDOUT:
        try:
            for chunk in [chunks] if isinstance(chunks, str) else chunks:
                click.echo(chunk, nl=False)
        except BrokenPipeError:
            raise OutputClosed from None
        return
    try:
        write_output(path, chunks)
    except OutputError as exc:
        raise UsageFailure(str(exc)) from None


def _check_outputs(targets: Sequence[Path]) -> None:
    """Every report file can be written: said now, not after an hour of scanning."""
    from .output import STDOUT, OutputError, check_target

    seen: set[str] = set()
    for target in targets:
        key = target.as_posix() if target == STDOUT else os.path.realpath(target)
        if key in seen:
            raise UsageFailure(f"{target} is named as an output twice")
        seen.add(key)
        try:
            check_target(target)
        except OutputError as exc:
            raise UsageFailure(str(exc)) from None


# --------------------------------------------------------------------------- flags from the table


def _click_option(option: Option[Any]) -> Callable[[F], F]:
    assert option.flag is not None
    help_text = option.help
    if option.env_name:
        help_text += f" [env: {option.env_name}]"
    names = [n for n in (option.short, option.flag) if n]
    attrs: dict[str, Any] = {"help": help_text, "default": None}
    if isinstance(option.kind, Bool) and "/" not in option.flag:
        attrs.update(is_flag=True, flag_value=not option.default)
    elif not isinstance(option.kind, Bool):
        attrs.update(type=str, metavar=option.metavar, multiple=option.multiple)
        if option.multiple:
            attrs["default"] = ()
    decorator = click.option(*names, option.key, **attrs)

    def apply(func: F) -> F:
        func = decorator(func)
        func.__click_params__[-1].group = option.group  # type: ignore[attr-defined]
        return func

    return apply


def table_flags(func: F) -> F:
    """Every option of the table that scan takes and that has a flag, in table order."""
    return flags_of(lambda option: "scan" in option.commands)(func)


def flags_of(wanted: Callable[[Option[Any]], bool]) -> Callable[[F], F]:
    """The flags of the options ``wanted`` picks, in table order."""

    def apply(func: F) -> F:
        for option in reversed(table()):
            if option.flag is not None and wanted(option):
                func = _click_option(option)(func)
        return func

    return apply


class GroupedCommand(click.Command):
    """--help lists the options in their groups (input, labels, training, …)."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        groups: dict[str, list[tuple[str, str]]] = {g: [] for g in GROUPS}
        other: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            group = getattr(param, "group", None)
            groups.get(str(group), other).append(record)
        for group, rows in groups.items():
            if rows:
                with formatter.section(GROUPS[group]):
                    formatter.write_dl(rows)
        if other:
            with formatter.section("Other"):
                formatter.write_dl(other)


SCAN_EPILOG = """\b
Examples:
  nanaudit scan data                         detect the layout, audit, exit 1 on errors
  nanaudit scan data --dry-run               what would be audited, nothing decoded
  nanaudit scan data -C 19 --ignore-index 255
  nanaudit scan data --label-map 255:1 -C 2 --ignore-index none   binary 0/255 masks
  nanaudit scan data --mask-folder 1st_manual --pair-key '^(\\d+)_'
  nanaudit scan data --images raw/img --masks raw/gt --write-config nanaudit.toml
  nanaudit scan data -o sarif:nanaudit.sarif -o json:nanaudit.json
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="nanaudit")
def cli() -> None:
    """Audit segmentation datasets for the defects that turn the loss into NaN."""


@cli.result_callback()
def _exit_with(code: int | None, **_: Any) -> None:
    """The commands return their exit code; the command line exits with it, here alone."""
    click.get_current_context().exit(code or EXIT_OK)


@cli.command(cls=GroupedCommand, epilog=SCAN_EPILOG)
@click.argument("path", required=False)
@table_flags
@guarded
def scan(path: str | None, **flags: Any) -> int:
    """Scan a dataset folder: pair images and masks, decode each file once, check them."""
    from .plan import locate, make_plan, option_layers

    given = {k: v for k, v in flags.items() if v is not None and v != ()}
    command_line = Layer("", given, Path.cwd(), text=True, command_line=True)
    environment = environment_layer()
    root, storage = locate(path if path is not None else ".", command_line, environment)
    if not storage.remote:
        _check_root(root)
    layers, config_file = option_layers(root, command_line, environment, storage)
    _prestart_pool(layers)
    from .cache import default_cache_dir
    from .pipeline import run, run_shard
    from .pool import usable_cpus
    from .shards import Partial

    plan = make_plan(root, layers, config_file, storage)
    opts = plan.options
    _check_targets(opts)
    if opts.write_config is not None:
        from .preview import config_text

        _write(opts.write_config, config_text(plan, layers, opts.write_config))
        click.echo(_written_config_line(root, opts.write_config, storage.remote), err=True)
    if opts.dry_run:
        from .preview import dry_run

        click.echo(dry_run(plan), nl=False)
        return EXIT_OK
    if opts.scheduler is not None and opts.executor != "dask":
        click.echo(
            "nanaudit: warning: --scheduler names a Dask scheduler, used only with "
            "--executor dask: the files are decoded on this machine",
            err=True,
        )
    if plan.warnings and opts.format not in ("auto", "rich"):
        for warning in plan.warnings:  # the terminal report says it; other formats may not
            click.echo(f"nanaudit: warning: {safe_line(warning)}", err=True)
    baseline = _baseline(opts)

    shard_run = opts.shard is not None or any(f == "partial" for f, _ in opts.outputs)
    if shard_run:
        _check_shard_outputs(opts)
    bar = _progress_bar(opts.progress, "file", 0)

    def on_total(n: int) -> None:
        if bar is not None:
            bar.reset(total=n)

    work = run_shard if shard_run else run
    try:
        result = work(
            plan,
            jobs=opts.jobs or usable_cpus(),
            cache_dir=(opts.cache_dir or default_cache_dir()) if opts.cache else None,
            progress=bar.update if bar is not None else None,
            on_total=on_total,
        )
    finally:
        if bar is not None:
            bar.close()
    if isinstance(result, Partial):
        _write_partial(result, opts)
        return EXIT_OK
    return _deliver(result, opts, baseline)


def _prestart_pool(layers: Sequence[Layer]) -> None:
    """Start the decoding pool's server while the files are listed (``pool.prestart``) when
    the options ask for this machine's pool with several jobs: the server's start (about
    0.5 s before a worker runs) then overlaps the discovery and the imports that follow.
    Not when a cache exists: a run it serves whole imports no pool (docs/guides/speed.md),
    and one it serves in part starts its pool when it knows what is left."""
    from .cache import cache_file, default_cache_dir
    from .options import resolve
    from .pool import prestart, usable_cpus

    try:
        early = resolve(layers)
    except ConfigError:
        return  # make_plan says what is wrong
    if early.executor != "local" or early.dry_run or (early.jobs or usable_cpus()) < 2:
        return
    try:
        if early.cache and cache_file(early.cache_dir or default_cache_dir()).exists():
            return
    except OSError:  # a folder it may not read: the cache says so later
        return
    prestart()


def _deliver(report: Report, opts: Options, baseline: tuple[str, Any] | None) -> int:
    """Apply the baseline, write the report files and stdout; the exit code."""
    from .formats import Format, RenderOptions, render_chunks, summary_line

    if baseline is not None:
        report = baseline_mod.apply_to(report, *baseline)

    if opts.write_baseline is not None:
        _write(opts.write_baseline, baseline_mod.dumps([*report.findings, *report.baselined]))
        report = replace(report, baseline_written=True)  # every report says exit code 0
    file_options = RenderOptions(
        verbose=opts.verbose,
        max_annotations=opts.max_annotations,
        stats=opts.stats,
        quiet=opts.quiet,
        files=opts.report_files,
    )
    for target_fmt, target in opts.outputs:
        _write(target, render_chunks(report, Format(target_fmt), file_options))
    if opts.format == "auto":
        in_actions = os.environ.get("GITHUB_ACTIONS") == "true"
        stdout_formats = [Format.GITHUB, Format.RICH] if in_actions else [Format.RICH]
    else:
        stdout_formats = [Format(opts.format)]
    use_color = (
        opts.color
        if opts.color is not None
        else (sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    )
    width = min(shutil.get_terminal_size().columns, 120) if sys.stdout.isatty() else None
    options = RenderOptions(
        verbose=opts.verbose,
        width=width,
        color=use_color,
        max_annotations=opts.max_annotations,
        stats=opts.stats,
        quiet=opts.quiet,
        files=opts.report_files,
    )
    try:
        for stdout_format in stdout_formats:
            for chunk in render_chunks(report, stdout_format, options):
                click.echo(chunk, nl=False)
    except BrokenPipeError:
        raise OutputClosed from None
    if Format.RICH not in stdout_formats:
        click.echo(summary_line(report), err=True)
    if opts.write_baseline is not None:
        # the findings are now the accepted state: recording them succeeded
        entries = len(report.findings) + len(report.baselined)
        click.echo(
            f"nanaudit: baseline of {entries} findings written to {opts.write_baseline}; "
            "exit code 0",
            err=True,
        )
        return EXIT_OK
    return report.exit_code


def _written_config_line(root: Path, written: Path, remote: bool) -> str:
    """Where the settings went, and the command that reads them: a plain ``nanaudit scan
    PATH`` reads the config nearest PATH (from PATH upward), else the working folder's; a
    file that is neither (or one a config beside the data outranks) is named with --config."""
    import shlex

    from .configfile import discover_config, find_config

    shown, where = shown_path(written), shlex.quote(str(root))
    if remote:
        found = find_config(Path.cwd())
        near = None
    else:
        found, beside, _ = discover_config(root)
        near = found if beside else None
    try:
        same = found is not None and found.resolve() == written.resolve()
    except OSError:
        same = False
    if same:
        return f"nanaudit: settings written to {shown}; `nanaudit scan {where}` reads them"
    why = (
        f"{shown_path(near)}, found from {where} upward, outranks it"
        if near is not None
        else f"a scan reads the nanaudit.toml of {where} or a folder above it, else the "
        "working folder's, not this one"
    )
    return (
        f"nanaudit: settings written to {shown}; {why}: run `nanaudit scan {where} --config "
        f"{shlex.quote(shown)}`"
    )


def _check_targets(opts: Options) -> None:
    """Before any work: every output can be written, and the HTML format's extra is there."""
    targets = [p for _, p in opts.outputs]
    extra = [p for p in (opts.write_baseline, opts.write_config) if p is not None]
    _check_outputs([*targets, *extra])
    if opts.format == "html" or any(fmt == "html" for fmt, _ in opts.outputs):
        from .formats.html import missing_extra

        if (problem := missing_extra()) is not None:  # said before the scan, not after it
            raise UsageFailure(problem)


def _baseline(opts: Options) -> tuple[str, Any] | None:
    if opts.baseline is None:
        return None
    try:
        return (opts.baseline.as_posix(), baseline_mod.load(opts.baseline))
    except baseline_mod.BaselineError as exc:
        raise UsageFailure(str(exc)) from None


# --------------------------------------------------------------------------- shards


def _check_shard_outputs(opts: Options) -> None:
    if not any(f == "partial" for f, _ in opts.outputs):
        raise UsageFailure("--shard needs -o partial:FILE, the file nanaudit merge reads")
    other = [f for f, _ in opts.outputs if f != "partial"]
    if other:
        raise UsageFailure(
            f"a shard run writes partial files only, not {other[0]}: nanaudit merge "
            "renders the report of all shards"
        )
    if opts.write_baseline is not None:
        raise UsageFailure("--write-baseline belongs to nanaudit merge, not to a shard run")


def _write_partial(part: Partial, opts: Options) -> None:
    from .kinds import shown_path
    from .paths import printable
    from .shards import partial_chunks

    targets = [target for _, target in opts.outputs]
    for target in targets:
        _write(target, partial_chunks(part))
    i, n = part.shard
    names = ", ".join(printable(shown_path(t)) for t in targets)
    click.echo(
        f"nanaudit: shard {i}/{n}: {len(part.records):,} files of {len(part.pairs):,} pairs "
        f"written to {names}; nanaudit merge makes the report of all {n}",
        err=True,
    )


# only what a report's rendering needs: the scan's settings are in the partial files
MERGE_OPTIONS = frozenset(
    {o.key for o in table() if o.group == "output" and o.key != "write_config"}
    | {"baseline", "write_baseline", "fail_on"}
)
MERGE_EPILOG = """\b
Examples:
  nanaudit scan data --shard 1/2 -o partial:part-1.json     (on one machine)
  nanaudit scan data --shard 2/2 -o partial:part-2.json     (on another)
  nanaudit merge part-*.json -o sarif:nanaudit.sarif
"""


@cli.command(cls=GroupedCommand, epilog=MERGE_EPILOG)
@click.argument("parts", nargs=-1, required=True, type=click.Path(path_type=Path))
@flags_of(lambda option: option.key in MERGE_OPTIONS)
@guarded
def merge(parts: tuple[Path, ...], **flags: Any) -> int:
    """Merge the partial files of a sharded scan into its report (the same as one scan's)."""
    from .pipeline import merge as merge_parts
    from .shards import PartialError, read_partial

    given = {k: v for k, v in flags.items() if v is not None and v != ()}
    command_line = Layer("", given, Path.cwd(), text=True, command_line=True)
    opts = resolve_options([environment_layer(), command_line])
    if any(f == "partial" for f, _ in opts.outputs):
        raise UsageFailure("-o partial:FILE is the output of a shard run (scan --shard I/N)")
    _check_targets(opts)
    baseline = _baseline(opts)
    try:
        report = merge_parts([read_partial(p) for p in parts], opts)
    except PartialError as exc:
        raise UsageFailure(str(exc)) from None
    if report.warnings and opts.format not in ("auto", "rich"):
        for warning in report.warnings:  # as scan says them
            click.echo(f"nanaudit: warning: {safe_line(warning)}", err=True)
    return _deliver(report, opts, baseline)


SAMPLES_EPILOG = """\b
Examples:
  nanaudit samples train:make_loader -C 21          call make_loader() in ./train.py
  nanaudit samples pipelines/data.py:train_set --samples 2000 --batch-size 8
  nanaudit samples mypkg.data:Loader --image-key img --mask-key lbl -o json:samples.json
"""


@cli.command(cls=GroupedCommand, epilog=SAMPLES_EPILOG)
@click.argument("target", metavar="MODULE:CALLABLE")
@flags_of(lambda option: "samples" in option.commands)
@guarded
def samples(target: str, **flags: Any) -> int:
    """Audit what a training pipeline yields: call CALLABLE() in MODULE for a Dataset, a
    DataLoader or any iterable of (image, mask) pairs, draw --samples N of them, check them.

    MODULE is a dotted name, looked for in the working folder first (as `python -m` does)
    and then among the installed packages, or the path of a .py file. CALLABLE is called
    without arguments (a function, or a Dataset class); an object that is not callable is
    used as it is. What the pipeline prints goes to stderr. Random transforms make the
    result a sample of what training sees, not a proof.
    """
    from .plan import option_layers
    from .samples.audit import audit
    from .samples.load import load_samples

    given = {k: v for k, v in flags.items() if v is not None and v != ()}
    command_line = Layer("", given, Path.cwd(), text=True, command_line=True)
    layers, config_file = option_layers(Path("."), command_line, environment_layer())
    opts = resolve_options(layers)
    _check_targets(opts)
    bar: Any = None
    try:
        # the user's code may print: stdout carries the report alone
        with contextlib.redirect_stdout(sys.stderr):
            pipeline = load_samples(target)
            bar = _progress_bar(opts.progress, "sample", opts.max_samples)
            report = audit(
                pipeline,
                opts,
                source=target,
                progress=bar.update if bar is not None else None,
                config_file=config_file,
            )
    finally:
        if bar is not None:
            bar.close()
    return _deliver(report, opts, None)


def _progress_bar(wanted: bool, unit: str, total: int | None) -> Any:
    """A tqdm bar on stderr when it is a terminal (and progress is wanted), else None."""
    if not wanted or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    try:  # a pseudo-terminal may say it is 0×0: tqdm would then hide the bar
        size = os.get_terminal_size(sys.stderr.fileno())
        sized = size.columns > 0 and size.lines > 0
    except OSError:
        sized = False
    return tqdm(
        total=total,
        unit=unit,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=sized,
        ncols=None if sized else 80,
        nrows=None if sized else 24,
    )


def _check_root(root: Path) -> None:
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


@cli.command()
@click.argument("check_id")
def explain(check_id: str) -> None:
    """Print what a check looks for, why it breaks training, and how to fix it."""
    from .checks.registry import get_check

    spec = get_check(check_id)
    if spec is None:
        raise UsageFailure(f"unknown check {check_id!r}; `nanaudit checks` lists them")
    click.echo(f"{spec.id} {spec.name} (default severity: {spec.severity.label})\n")
    click.echo(spec.doc)
    fields = spec.option_fields
    if fields:
        click.echo(f"\nOptions (config: [checks.{spec.id}], or [tool.nanaudit.checks.{spec.id}]):")
        for f in fields:
            kind = f.metadata["kind"]
            click.echo(f"  {f.name} = {f.default!r}  ({kind.describe()}) {f.metadata['help']}")


@cli.command("layouts")
def list_layouts() -> None:
    """List the layout presets (what each expects on disk, its label convention) and the
    training presets (--training-preset NAME)."""
    from .layouts.presets import PRESETS
    from .layouts.training import TRAINING_PRESETS

    for p in PRESETS.values():
        click.echo(f"{p.name}\n  expects: {p.expects}\n  labels:  {p.labels}")
    click.echo("\ntraining presets (--training-preset NAME; applied only when asked):")
    for t in TRAINING_PRESETS.values():
        click.echo(f"{t.name}\n  from:     {t.source}\n  settings: {t.describe()}")


@cli.command("checks")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def list_checks(fmt: str) -> None:
    """List every check: ID, name, default severity and what fires it."""
    from .checks.registry import all_checks

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
    from .pool import tune_allocator

    args = list(sys.argv[1:] if argv is None else argv)
    tune_allocator()
    debug = "--debug" in args
    try:
        with _sigterm_stops():
            code = cli.main(args=args, prog_name="nanaudit", standalone_mode=False)
    except SystemExit as exc:  # code beyond nanaudit's (a pipeline's sys.exit)
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_ERROR
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:  # click: Abort from Ctrl-C
        return _stopped(exc)
    except click.UsageError as exc:
        # one line, like every other error; the command's --help has the rest
        command = exc.ctx.command_path if exc.ctx is not None else "nanaudit"
        click.echo(error_line(f"{exc.format_message()} (see {command} --help)"), err=True)
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
        click.echo(error_line(internal_error(exc, debug)), err=True)
        return EXIT_ERROR
    return code if isinstance(code, int) else EXIT_OK
