"""The memory budget: how much one file's decode may take.

A file's decoded size is known from its header before anything is decoded; the readers
(decode/readers.py) estimate the peak of its decode and statistics and refuse (NA002) a
file whose estimate exceeds the budget.  The default budget is half the memory available
when the scan starts: the smaller of the system's MemAvailable and what the process's
control group (a container's limit) leaves, counting reclaimable page cache as free.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

DEFAULT_FRACTION = 0.5
FALLBACK_BUDGET = 4 << 30  # when nothing says how much memory there is
UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a number near 2**63


def available_memory() -> int | None:
    """Bytes of memory this process may still use, or None when nothing says."""
    found = [n for n in (_meminfo_available(), _cgroup_available(), _rlimit()) if n is not None]
    return min(found) if found else None


def default_budget() -> int:
    available = available_memory()
    if available is None:
        return FALLBACK_BUDGET
    return max(int(available * DEFAULT_FRACTION), 64 << 20)


def format_bytes(n: int) -> str:
    """1,536 MiB, 2.0 GiB: the figure a message names."""
    if n >= 10 << 30:
        return f"{n / (1 << 30):,.0f} GiB"
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):,.0f} MiB"
    return f"{n / 1024:,.0f} KiB"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None


def _meminfo_available() -> int | None:
    text = _read(Path("/proc/meminfo"))
    found = re.search(r"^MemAvailable:\s+(\d+) kB", text or "", re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


def _number(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() else None


def _stat(text: str | None, key: str) -> int:
    found = re.search(rf"^{key} (\d+)$", text or "", re.MULTILINE)
    return int(found.group(1)) if found else 0


def _cgroup_available() -> int | None:
    """What the control group's limit leaves: limit - (usage - inactive page cache)."""
    text = _read(Path("/proc/self/cgroup")) or ""
    best: int | None = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, where = parts
        where = where.lstrip("/")
        if controllers == "":  # cgroup v2
            base = Path("/sys/fs/cgroup") / where
            limit = _number(_read(base / "memory.max"))
            usage = _number(_read(base / "memory.current"))
            cache = _stat(_read(base / "memory.stat"), "inactive_file")
        elif "memory" in controllers.split(","):  # cgroup v1
            base = Path("/sys/fs/cgroup/memory") / where
            if not base.is_dir():
                base = Path("/sys/fs/cgroup/memory")
            limit = _number(_read(base / "memory.limit_in_bytes"))
            usage = _number(_read(base / "memory.usage_in_bytes"))
            cache = _stat(_read(base / "memory.stat"), "total_inactive_file")
        else:
            continue
        if limit is None or limit >= UNLIMITED:
            continue
        left = limit - max((usage or 0) - cache, 0)
        best = left if best is None else min(best, left)
    return max(best, 0) if best is not None else None


def _rlimit() -> int | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    limits = []
    for which in (resource.RLIMIT_AS, getattr(resource, "RLIMIT_DATA", None)):
        if which is None:
            continue
        soft, _ = resource.getrlimit(which)
        if soft != resource.RLIM_INFINITY and soft > 0:
            limits.append(int(soft))
    if not limits:
        return None
    return min(limits) - _resident()


def _resident() -> int:
    text = _read(Path("/proc/self/statm"))
    try:
        return int((text or "").split()[0]) * os.sysconf("SC_PAGE_SIZE")  # virtual size
    except (IndexError, ValueError, OSError):
        return 0
