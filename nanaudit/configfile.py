"""The config file: ``--config FILE``, else the nearest ``nanaudit.toml`` (top-level keys, or
a ``[tool.nanaudit]`` table) or ``pyproject.toml`` with ``[tool.nanaudit]``, searched from
the scanned folder upward, else from the working folder upward.

The nearest to the data wins, as ruff and black take the configuration of the files'
location; a working folder's config that it then leaves unread is said in a usage warning.
A file found from the scanned folder upward came with the data: it is read as an untrusted
layer (options.py says what that forbids). One found from the working folder (where
``scan --write-config nanaudit.toml`` writes it, PATH lying elsewhere) is the user's own:
read as if named with ``--config``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .kinds import ConfigError, shown_path
from .options import Layer
from .storage import RemoteStorage

MAX_CONFIG_BYTES = 1 << 20


def find_config(start: Path) -> Path | None:
    """The nearest nanaudit.toml, or pyproject.toml with [tool.nanaudit], from start upward."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for d in (here, *here.parents):
        candidate = d / "nanaudit.toml"
        if candidate.is_file():
            return candidate
        py = d / "pyproject.toml"
        if py.is_file():
            try:
                data = tomllib.loads(read_text(py))
            except (ConfigError, tomllib.TOMLDecodeError):
                continue
            if isinstance(data.get("tool"), dict) and "nanaudit" in data["tool"]:
                return py
    return None


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _working_config() -> Path | None:
    try:
        return find_config(Path.cwd())
    except OSError:  # the working folder was removed
        return None


def discover_config(root: Path) -> tuple[Path | None, bool, Path | None]:
    """The config a scan of ``root`` reads without ``--config``: (its path, whether it was
    found beside the data, the working folder's config it leaves unread, if any)."""
    near = find_config(root)
    here = _working_config()
    if near is not None:
        return near, True, here if here is not None and not _same(here, near) else None
    return here, False, None


def read_bytes(path: Path, limit: int) -> bytes:
    """A file nanaudit did not make: at most ``limit`` bytes of a regular file. Opened
    without blocking and checked through the descriptor (a FIFO, a device or a link to
    /dev/zero is never read), its size checked before a byte is read. Every file read
    that does not come from the scanned data's decoders goes through here: configs, class
    names, baselines, partial files."""
    import os
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ConfigError(f"{path}: not a regular file")
            if info.st_size > limit:
                raise ConfigError(f"{path}: larger than {limit:,} bytes")
            data = fh.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ConfigError(f"{path}: larger than {limit:,} bytes")
    return data


def read_text(path: Path, limit: int = MAX_CONFIG_BYTES) -> str:
    """A small text file (``read_bytes``), UTF-8."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from None


def read_config(path: Path, text: str | None = None) -> dict[str, Any]:
    """The nanaudit settings of a config file (of ``text``, when it was read already)."""
    try:
        data = tomllib.loads(read_text(path) if text is None else text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    tool = data.get("tool")
    if isinstance(tool, dict) and "nanaudit" in tool:
        section = tool["nanaudit"]
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: [tool.nanaudit] must be a table")
        return section
    if path.name == "pyproject.toml":
        return {}
    return data


def config_layer(root: Path, named: Path | None) -> Layer | None:
    """The config file's layer: the one named (trusted), else the one found (untrusted)."""
    if named is not None:
        if not named.is_file():
            raise ConfigError(f"config file not found: {named}")
        path, trusted = named, True
    else:
        found, beside_data, _ = discover_config(root)
        if found is None:
            return None
        path, trusted = found, not beside_data
    return Layer(
        shown_path(path),
        read_config(path),
        base=path.parent,
        trusted=trusted,
        # found above the scanned folder: only what it names inside PATH is allowed
        confine=None if trusted else root,
        config_file=True,
    )


def unread_config(root: Path) -> str | None:
    """The usage warning when the working folder's config is left unread for the one found
    from the scanned folder upward (no --config given)."""
    found, _, left = discover_config(root)
    if found is None or left is None:
        return None
    return (
        f"config: {shown_path(found)} (found from the scanned folder upward) is read, not "
        f"{shown_path(left)} of the working folder: the config nearest the data wins; name "
        f"the one you mean with --config {shown_path(left)}"
    )


def working_config_layer() -> Layer | None:
    """The working folder's config (remote data without a config of its own)."""
    found = _working_config()
    if found is None:
        return None
    return Layer(
        shown_path(found), read_config(found), base=found.parent, trusted=True, config_file=True
    )


def remote_config_layer(storage: RemoteStorage) -> Layer | None:
    """The nanaudit.toml (or pyproject.toml with [tool.nanaudit]) at the root of remote data:
    untrusted, as every config found beside the data."""
    for name in ("nanaudit.toml", "pyproject.toml"):
        path = storage.root / name
        text = storage.read_text(path, MAX_CONFIG_BYTES) if storage.is_file(path) else None
        if text is None:
            continue
        section = read_config(path, text)
        if name == "pyproject.toml" and not section:
            continue
        url = f"{storage.shown_url}/{name}"
        return Layer(url, section, base=storage.root, trusted=False, config_file=True)
    return None
