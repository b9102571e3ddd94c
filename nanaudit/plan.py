"""Options + layout preset → a frozen :class:`ScanPlan`, settled before any file is read.

The plan holds everything the stages after it need: the root, the settled options, the
layout (which splits, which folders, which pairs of paths), the label rules, the training
rules, the decode limits (the only settings that shape a record) and the checks that run
with their typed thresholds.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .checks.registry import CheckSpec, all_checks
from .configfile import (
    config_layer,
    read_text,
    remote_config_layer,
    unread_config,
    working_config_layer,
)
from .kinds import ConfigError, Int
from .layouts import DiscoverRequest, DiscoveryError, ExplicitSplit, Layout, NoLayoutFound
from .layouts.below import look_below
from .layouts.generic import KeyNote, discover
from .layouts.presets import PRESETS, Preset, detect_preset, resolve
from .layouts.survey import unaudited_folders
from .layouts.training import TRAINING_PRESETS
from .layouts.walk import Walker, listing_from
from .loaders import DEFAULT_READER, FRAMEWORKS
from .memory import default_budget
from .options import CheckSetting, Command, Layer, Options, table
from .options import resolve as resolve_options
from .paths import display_root
from .records import DecodeLimits
from .regex import compile_key
from .rules import LabelRules, TrainingRules, training_names
from .severity import Severity
from .storage import LOCAL, RemoteStorage, Storage, is_url, local_path

MAX_CLASS_NAMES_BYTES = 1 << 20
ROLE_ORDER = {"train": 0, "val": 1, "test": 2}  # splits in this order; the rest after them


@dataclass(frozen=True, slots=True)
class ActiveCheck:
    """A check that runs, with its configured severity (None: its default) and thresholds."""

    spec: CheckSpec[Any]
    severity: Severity | None
    options: Any


@dataclass(frozen=True, slots=True)
class ScanPlan:
    root: Path
    options: Options
    preset: Preset
    layout: Layout
    labels: LabelRules
    training: TrainingRules
    limits: DecodeLimits
    checks: tuple[ActiveCheck, ...]
    config_file: str | None = None
    visuals: bool = False  # make thumbnails while decoding (an HTML report was asked for)
    warnings: tuple[str, ...] = ()  # usage warnings: settings that contradict each other
    storage: Storage = LOCAL  # where the files are: this machine, or an fsspec URL

    @property
    def shown_root(self) -> str:
        """The root as reports name it: the URL of remote storage, else the path."""
        return self.storage.display_root(self.root) or display_root(self.root)

    def ignored_for_path(self, check_id: str, path: str) -> bool:
        return any(
            fnmatch.fnmatchcase(path, glob) and any(check_id.startswith(p) for p in prefixes)
            for glob, prefixes in self.options.per_file_ignores
        )

    def config(self) -> dict[str, Any]:
        """The effective configuration, as the JSON report states it."""
        return effective_config(self.options, self.labels, self.checks, self.config_file)


def effective_config(
    options: Options,
    labels: LabelRules,
    checks: Sequence[ActiveCheck],
    config_file: str | None,
    command: Command = "scan",
) -> dict[str, Any]:
    """The effective configuration, as the JSON report states it: the options the command
    reads, the label rules and every check (enabled or not) with its severity and
    thresholds."""
    out = options.to_dict(command)
    out["class_names"] = list(labels.class_names)
    out["unused_ids"] = list(labels.unused_ids)
    active = {c.spec.id: c for c in checks}
    out["checks"] = {}
    for spec in all_checks():
        on = active.get(spec.id)
        setting = options.checks.get(spec.id, CheckSetting())
        severity = (on.severity if on else setting.severity) or spec.severity
        out["checks"][spec.id] = {
            "enabled": on is not None,
            "severity": severity.label,
            **spec.defaults,
            **setting.options,
        }
    out["config_file"] = config_file
    return out


def active_checks(
    options: Options, applies: Callable[[CheckSpec[Any]], bool]
) -> tuple[ActiveCheck, ...]:
    """The checks that run: those that apply (to files, or to drawn samples) and are
    selected, with their configured severity and thresholds."""
    return tuple(
        ActiveCheck(
            spec,
            options.checks.get(spec.id, CheckSetting()).severity,
            spec.make_options(options.checks.get(spec.id, CheckSetting()).options),
        )
        for spec in all_checks()
        if applies(spec) and selected(options, spec.id)
    )


def selected(options: Options, check_id: str) -> bool:
    """Whether a check runs: not turned off, and chosen by the longest matching prefix of
    --select and --ignore (no --select: every check)."""
    setting = options.checks.get(check_id)
    if setting is not None and setting.enabled is False:
        return False
    best_select = max((len(p) for p in options.select if check_id.startswith(p)), default=-1)
    best_ignore = max((len(p) for p in options.ignore if check_id.startswith(p)), default=-1)
    if best_select < 0 and best_ignore < 0:
        return not options.select
    return best_select > best_ignore


def locate(
    root: str | Path, overrides: Layer, environment: Layer | None = None
) -> tuple[Path, Storage]:
    """The scan root as a path, and the storage it is in: an fsspec URL (with the storage
    options of the flags, the variables or the API) is remote, anything else local."""
    if not is_url(str(root)):
        return Path(local_path(str(root))), LOCAL
    above = [layer for layer in (environment, overrides) if layer is not None]
    storage = RemoteStorage(str(root), dict(resolve_options(above).storage_options))
    return storage.root, storage


def option_layers(
    root: Path, overrides: Layer, environment: Layer | None = None, storage: Storage = LOCAL
) -> tuple[list[Layer], str | None]:
    """The layers above the preset: the config file, the environment, then the overrides
    (flags or API options). The config file may be named by the layers above it; one beside
    remote data is looked for at the root of its URL."""
    above = [layer for layer in (environment, overrides) if layer is not None]
    named = resolve_options(above).config
    if isinstance(storage, RemoteStorage) and named is None:
        file_layer = remote_config_layer(storage) or working_config_layer()
    else:
        file_layer = config_layer(root, named)
    layers = [file_layer, *above] if file_layer is not None else above
    return layers, file_layer.source if file_layer is not None else None


def make_plan(
    root: Path, layers: Sequence[Layer], config_file: str | None = None, storage: Storage = LOCAL
) -> ScanPlan:
    """Settle the options (with the layout preset's conventions) and discover the layout."""
    with listing_from(storage):
        try:
            return _make_plan(root, layers, config_file, storage)
        except NoLayoutFound as nothing:  # its message written where the listing is (remote)
            raise DiscoveryError(str(nothing)) from None


def _make_plan(
    root: Path, layers: Sequence[Layer], config_file: str | None, storage: Storage
) -> ScanPlan:
    user = resolve_options(layers)
    explicit = _explicit_splits(user)
    if explicit and storage.remote:
        raise ConfigError(
            "--images, --masks and --split name local folders: with a URL, let discovery "
            "find the folders (or name a layout with --layout)"
        )
    preset, base, why = resolve(root, user.layout, bool(explicit))
    if user.training_preset is not None:  # below the user's layers, above the layout's
        chosen = TRAINING_PRESETS[user.training_preset]
        layers = [Layer(f"training preset {chosen.name}", chosen.values), *layers]
    user_layers = layers
    layers, options, request = _settle(root, user_layers, user, preset, base, explicit)
    if preset.discover is not None:
        layout = preset.discover(root, base, request)
    else:
        try:
            layout = discover(root, request)
        except NoLayoutFound as nothing:
            # a download folder holding the dataset, or group folders: said in the reason
            below = None if explicit else look_below(root, request, detect_preset)
            if below is None:
                raise nothing from None
            why = below.why
            if below.preset is not None and below.base is not None:
                preset, base = PRESETS[below.preset], below.base
                layers, options, request = _settle(root, user_layers, user, preset, base, explicit)
                found = preset.discover
                layout = found(root, base, request) if found else discover(base, request)
            else:
                assert below.layout is not None
                layout = below.layout
    labels = LabelRules(
        num_classes=options.num_classes,
        ignore_index=options.ignore_index,
        background=options.background,
        unused_ids=preset.unused_ids,
        label_offset=options.label_offset,
        reduce_zero_label=options.reduce_zero_label,
        class_names=read_class_names(options),
        label_map=options.label_map,
    )
    walker = request.walker
    layout = _with_walk_problems(layout, walker)
    # a --pair-key that would pair what does not pair by name is said up front, as a
    # warning: it is the fix of every NA003/NA004 of the split, and -q shows no notes
    key_notes = tuple(n for n in layout.notes if isinstance(n, KeyNote))
    layout = replace(layout, notes=tuple(n for n in layout.notes if not isinstance(n, KeyNote)))
    if why:
        layout = replace(layout, reason=f"{why}; {layout.reason}")
    if options.train_splits:
        layout = _with_training_splits(layout, options.train_splits)
    layout = replace(
        layout,
        splits=tuple(sorted(layout.splits, key=lambda s: ROLE_ORDER.get(s.role, len(ROLE_ORDER)))),
        unaudited=unaudited_folders(
            root,
            _audited(layout),
            walker,
            [
                d
                for s in layout.splits
                for d in (s.image_root, s.mask_root, *s.folders)
                if d is not None
            ],
        ),
    )
    checks = active_checks(options, lambda spec: spec.applies_to_scans)
    training = training_rules(options)
    return ScanPlan(
        root=root,
        options=options,
        preset=preset,
        layout=layout,
        labels=labels,
        training=training,
        limits=decode_limits(options),
        checks=checks,
        config_file=config_file,
        visuals=wants_pictures(options),
        warnings=(
            *gate_warnings(layers),
            *_unread_config(root, user, storage),
            *usage_warnings(labels, training),
            *_no_training_split(layout),
            *key_notes,
        ),
        storage=storage,
    )


def _settle(
    root: Path,
    layers: Sequence[Layer],
    user: Options,
    preset: Preset,
    base: Path,
    explicit: Sequence[ExplicitSplit],
) -> tuple[list[Layer], Options, DiscoverRequest]:
    """The layers with the preset's (under every one the user gave), the options they
    settle, and what discovery needs of them."""
    layers = list(layers)
    if user.label_encoding is not None or preset.name != "generic":
        values = preset.option_values(user.label_encoding)
        if preset.catalogue is not None:
            values = {**values, **preset.catalogue(base)}
        layers = [Layer(f"layout preset {preset.name}", values), *layers]
    options = resolve_options(layers)
    # links are followed within the scanned root and the folders the user named
    named = [p for s in explicit for p in (s.images, s.masks) if p is not None]
    request = DiscoverRequest(
        explicit=tuple(explicit),
        pair_key=compile_key(options.pair_key) if options.pair_key else None,
        unlabeled=frozenset(s.lower() for s in options.unlabeled_splits),
        label_encoding=options.label_encoding,
        label_offset=options.label_offset,
        reduce_zero_label=options.reduce_zero_label,
        walker=Walker.within([root, *named], options.follow_links),
        mask_folder=options.mask_folder,
    )
    return layers, options, request


def _unread_config(root: Path, user: Options, storage: Storage) -> tuple[str, ...]:
    """Without --config, a working folder's config left unread for the data's is said."""
    if user.config is not None or storage.remote:
        return ()
    said = unread_config(root)
    return (said,) if said else ()


def _with_training_splits(layout: Layout, names: Sequence[str]) -> Layout:
    """The splits named by --train-split become the training splits (and only they): a
    name that is no split is an error that lists the splits."""
    by_name = {s.name.lower(): s.name for s in layout.splits}
    unknown = [n for n in names if n.lower() not in by_name]
    if unknown:
        known = ", ".join(repr(s.name) for s in layout.splits) or "none"
        raise ConfigError(
            f"--train-split {unknown[0]!r}: no such split (the splits found: {known})"
        )
    chosen = {by_name[n.lower()] for n in names}
    return replace(
        layout,
        splits=tuple(
            replace(
                s, role="train" if s.name in chosen else "other" if s.role == "train" else s.role
            )
            for s in layout.splits
        ),
    )


def _no_training_split(layout: Layout) -> tuple[str, ...]:
    """Said, not skipped in silence: with no training split, the checks of what a model
    trains on (NA301, NA308, NA4xx: --crop-size, --batch-size) and the class weights do
    not run."""
    if not layout.splits or training_names([(s.name, s.role) for s in layout.splits]):
        return ()
    if not any(s.labeled for s in layout.splits):
        return ()
    names = ", ".join(s.name for s in layout.splits)
    first = layout.splits[0].name
    return (
        f"no split is named like a training split ({names}): the training checks (NA301, "
        "NA308, NA401-NA407: --crop-size, --batch-size) and the class weights are skipped; "
        f"name the training splits with --train-split (e.g. --train-split {first})",
    )


def _with_walk_problems(layout: Layout, walker: Walker) -> Layout:
    """Every folder the walker could not list (NA008), and every link it did not follow
    (skipped), belongs to the split whose folders hold it: none is lost, whatever the
    preset kept of its walks."""
    if not layout.splits:
        return layout
    splits = list(layout.splits)
    listed = {path for s in splits for path, _ in s.skipped}

    def owner(path: Path) -> int:
        for i, s in enumerate(splits):
            for folder in (s.image_root, s.mask_root, *s.folders):
                if folder is not None and path.is_relative_to(folder):
                    return i
        return 0

    for path, reason in sorted(walker.unreadable.items()):
        i = owner(path)
        splits[i] = replace(splits[i], unreadable=(*splits[i].unreadable, (path, reason)))
    for path, reason in sorted(walker.outside.items()):
        if path not in listed:
            i = owner(path)
            splits[i] = replace(splits[i], skipped=(*splits[i].skipped, (path, reason)))
    return replace(layout, splits=tuple(splits))


def wants_pictures(options: Options) -> bool:
    """Thumbnails are made only for an HTML report: asked for, or one is written."""
    html = options.format == "html" or any(fmt == "html" for fmt, _ in options.outputs)
    return html or options.thumbnails


# The settings that decide what fails a scan, as config keys.
GATE_KEYS = ("fail_on", "select", "ignore", "per_file_ignores", "baseline", "checks")


def gate_warnings(layers: Sequence[Layer]) -> tuple[str, ...]:
    """A config found beside the data comes with the data: when it decides what fails the
    scan (and no layer of the user's above it does), say so, since a downloaded dataset can
    mute its own audit that way."""
    out = []
    for i, layer in enumerate(layers):
        if not layer.config_file or layer.trusted:
            continue
        mine = resolve_options([layer])
        above = resolve_options([x for x in layers[i + 1 :] if x.trusted])
        keys = [k for k in GATE_KEYS if mine.given(k) and not above.given(k)]
        if "fail_on" in keys and mine.fail_on is not None:
            keys.remove("fail_on")  # a severity to fail on mutes nothing; "never" does
        if keys:
            shown = ", ".join(
                "fail_on = never" if k == "fail_on" else {o.key: o for o in table()}[k].config_key
                for k in keys
            )
            out.append(
                f"the config found beside the data ({layer.source}) sets what fails this "
                f"scan ({shown}): a dataset from elsewhere can mute its own audit so; to decide "
                "yourself, pass --config FILE or the flags"
            )
        reading = [k for k in LABEL_KEYS if mine.given(k) and not above.given(k)]
        if reading:
            out.append(
                f"the config found beside the data ({layer.source}) sets how the masks are "
                f"read ({', '.join(reading)}): values it maps, shifts, names or declares "
                "unlabeled are not reported as they are stored, so a dataset from elsewhere "
                "can hide its own defects; to decide yourself, pass --config FILE or the flags"
            )
    return tuple(out)


# The settings that change what the label checks see (and so can hide findings), as keys.
LABEL_KEYS = (
    "unlabeled_splits",
    "label_map",
    "label_offset",
    "reduce_zero_label",
    "class_names",
    "class_names_file",
)


def usage_warnings(labels: LabelRules, training: TrainingRules | None = None) -> tuple[str, ...]:
    """Settings that are accepted but probably not meant."""
    out = []
    if training is not None and training.crop_size is None:
        pad_flags = (("--pad", training.pad), ("--pad-value", training.pad_value is not None))
        given = [flag for flag, on in pad_flags if on]
        if given:
            out.append(
                f"{' and '.join(given)} without --crop-size: padding fills a crop larger than "
                "the image, and there is no crop, so the training checks pad nothing"
            )
    elif training is not None and training.pad_value is not None and not training.pad:
        out.append(
            "--pad-value without --pad: padding is off, so the value is never written "
            "(add --pad if the pipeline pads)"
        )
    c, ignore = labels.num_classes, labels.ignore_index
    if c is not None and ignore is not None and 0 <= ignore < c:
        out.append(
            f"the ignore index {ignore} lies inside the classes [0, {c}): its pixels are "
            f"ignored, so class {labels.name(ignore)} can never be learned (and is left out of "
            f"NA301 and the class weights); use C = {ignore} if {ignore} is void, or another "
            "ignore index"
        )
    return tuple(out)


def _audited(layout: Layout) -> Iterator[Path]:
    for split in layout.splits:
        for p in split.pairs:
            yield from (x for x in (p.image, p.mask) if x is not None)
        yield from (path for path, _ in split.skipped)


def training_rules(options: Options) -> TrainingRules:
    """The training options of the table, by name (``loss`` fills ``losses``). Any of them
    but batch_size and drop_last (which serve NA308 alone, as before the training checks
    existed) describes the pipeline itself."""
    special = {"losses", "described", "image_reader", "mask_reader"}
    named = {f.name for f in dataclasses.fields(TrainingRules)} - special
    pipeline = [
        o.key
        for o in table()
        if o.group == "training" and o.key not in ("batch_size", "drop_last", *READER_KEYS)
    ]
    image_reader, mask_reader = stated_readers(options)
    return TrainingRules(
        **{name: getattr(options, name) for name in named},
        losses=options.loss,
        described=any(options.given(k) for k in pipeline),
        image_reader=image_reader,
        mask_reader=mask_reader,
    )


READER_KEYS = ("reader", "image_reader", "mask_reader")


def stated_readers(options: Options) -> tuple[str | None, str | None]:
    """The image and mask readers the user stated (None: not stated): --image-reader and
    --mask-reader, else those of the --reader framework."""
    framework = FRAMEWORKS.get(options.reader or "")
    image = options.image_reader or (framework.image if framework else None)
    mask = options.mask_reader or (framework.mask if framework else None)
    return image, mask


def decode_limits(options: Options) -> DecodeLimits:
    """What bounds and shapes each decode: the pixel and memory limits, and the readers
    (pillow where none is stated)."""
    image, mask = stated_readers(options)
    return DecodeLimits(
        options.max_pixels,
        options.max_memory or default_budget(),
        image_reader=image or DEFAULT_READER,
        mask_reader=mask or DEFAULT_READER,
    )


def _explicit_splits(options: Options) -> tuple[ExplicitSplit, ...]:
    if options.masks is not None and options.images is None:
        raise ConfigError("--masks needs --images")
    splits = options.splits
    if options.images is not None:
        splits = (
            ExplicitSplit("all", options.images, options.masks, "--images/--masks"),
            *options.splits,
        )
    for s in splits:
        if s.masks is not None and _same_folder(s.images, s.masks):
            flag = "--images and --masks" if s.given_as == "--images/--masks" else "--split"
            raise ConfigError(
                f"{flag} name the same folder ({s.images}): every file would be paired with "
                "itself, an image audited as its own mask; name the mask folder (or the "
                "dataset root, and let discovery find both)"
            )
    return splits


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return a == b


def read_class_names(options: Options) -> tuple[str, ...]:
    """One class name per line of class_names_file (blank and # lines skipped), else the
    class_names option (or the preset's)."""
    path = options.class_names_file
    if path is None:
        return options.class_names
    try:
        text = read_text(path, MAX_CLASS_NAMES_BYTES)
    except ConfigError as exc:
        raise ConfigError(f"class names: {exc}") from None
    names = tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    if not names:
        raise ConfigError(f"class names: {path} holds no class names")
    return names


def plan_for_api(root: str | Path, config: Path | None, values: Mapping[str, Any]) -> ScanPlan:
    """The plan of ``nanaudit.scan(root, config=…, **values)``: no environment variables.
    ``None`` is "not given", except for a label that has a default and can be none
    (``ignore_index=None``, ``background=None``): there it means none, as it does for
    ``audit_samples`` and as the Report states it."""
    nonable = {
        o.key for o in table() if o.default is not None and isinstance(o.kind, Int) and o.kind.none
    }
    overrides = Layer(
        "option",
        {
            k: ("none" if v is None else v)
            for k, v in values.items()
            if v is not None or k in nonable
        },
        Path.cwd(),
    )
    if config is not None:
        overrides = Layer("option", {**overrides.values, "config": config}, Path.cwd())
    path, storage = locate(root, overrides)
    layers, config_file = option_layers(path, overrides, storage=storage)
    return make_plan(path, layers, config_file, storage)


__all__ = [
    "ActiveCheck",
    "DiscoveryError",
    "ScanPlan",
    "active_checks",
    "effective_config",
    "locate",
    "make_plan",
    "option_layers",
    "plan_for_api",
    "read_class_names",
    "selected",
]
