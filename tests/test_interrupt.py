"""Interruption and worker death, on a real ``python -m nanaudit`` in its own session.

Ctrl-C (SIGINT to the whole process group, as a terminal sends it) stops the scan with exit
code 130 within seconds, leaves no process of the session behind and writes no report, not
even a half-written temporary file. A worker killed mid-scan does not hang the scan: it
finishes and its report still lists every file."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import clean_mask, natural_image
from PIL import Image

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the process tree from /proc"
)

PAIRS = 160
SIZE = (1024, 1024)  # 160 pairs take about 3 s with --jobs 2 on two cores


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """160 pairs of 1024×1024 JPEG images and PNG masks, written from 8 encoded bases
    (about 1.5 s: encoding is done once per base, the copies are plain writes)."""
    root = tmp_path_factory.mktemp("big") / "data"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    bases = []
    for k in range(8):
        img, mask = io.BytesIO(), io.BytesIO()
        Image.fromarray(natural_image(k, SIZE)).save(img, "JPEG", quality=90)
        Image.fromarray(clean_mask(k, SIZE)).save(mask, "PNG")
        bases.append((img.getvalue(), mask.getvalue()))
    for i in range(PAIRS):
        img_bytes, mask_bytes = bases[i % len(bases)]
        (root / "images" / f"img_{i:04d}.jpg").write_bytes(img_bytes)
        (root / "masks" / f"img_{i:04d}.png").write_bytes(mask_bytes)
    return root


# --------------------------------------------------------------------------- /proc


def children(pid: int) -> set[int]:
    out: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.update(int(x) for x in fh.read().split())
        except OSError:
            pass
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def workers(pid: int) -> set[int]:
    """The pool's worker processes: children of the forkserver (the start method used on
    Linux), or direct children started by the spawn method."""
    found: set[int] = set()
    for child in children(pid):
        line = cmdline(child)
        if "forkserver" in line:
            found |= children(child)
        elif "spawn_main" in line:
            found.add(child)
    return found


def session(sid: int) -> set[int]:
    """Every process still in session ``sid`` (zombies included)."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    out.add(int(entry))
            except OSError:
                pass
    return out


def wait_for(predicate: object, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(step)
    return False


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[object]:
    """Start ``python -m nanaudit scan`` in a new session; whatever the test leaves running
    of that session is killed at teardown (only processes of the session started here)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        err = open(tmp_path / f"stderr{len(started)}.txt", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "nanaudit", "scan", *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
        err.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None or session(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_ctrl_c_exits_130_and_leaves_nothing(big: Path, tmp_path: Path, launch: object) -> None:
    out = tmp_path / "report.json"
    proc = launch(
        str(big),
        "--jobs",
        "2",
        "--no-cache",
        "--no-progress",  # type: ignore[operator]
        "--output",
        f"json:{out}",
    )
    # --jobs 2: one worker decodes beside the scan's own process (pool._run_chunks)
    assert wait_for(lambda: len(workers(proc.pid)) >= 1, timeout=30), "no worker started"
    time.sleep(0.3)  # mid-scan: the workers are decoding
    assert proc.poll() is None, "the scan ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("the scan did not stop within 10 s of SIGINT")
    stderr = (tmp_path / "stderr0.txt").read_text(errors="replace")
    assert code == 130, stderr
    assert "interrupted" in stderr
    assert wait_for(lambda: not session(proc.pid), timeout=10), (
        f"processes of the scan's session remain: {session(proc.pid)}"
    )
    assert not out.exists()
    assert not list(tmp_path.glob(f".{out.name}.*nanaudit-tmp"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stderr0.txt"]


def test_killed_worker_does_not_hang_the_scan(big: Path, tmp_path: Path, launch: object) -> None:
    out = tmp_path / "report.json"
    proc = launch(
        str(big),
        "--jobs",
        "2",
        "--no-cache",
        "--no-progress",  # type: ignore[operator]
        "--output",
        f"json:{out}",
    )
    # --jobs 2: one worker decodes beside the scan's own process (pool._run_chunks)
    assert wait_for(lambda: len(workers(proc.pid)) >= 1, timeout=30), "no worker started"
    time.sleep(0.5)
    victims = sorted(workers(proc.pid))
    assert victims and proc.poll() is None, "the scan ended before a worker could be killed"
    os.kill(victims[0], signal.SIGKILL)
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the scan hung after a worker was killed")
    stderr = (tmp_path / "stderr0.txt").read_text(errors="replace")
    assert code in (0, 1), stderr
    assert "Traceback" not in stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    files = {f["path"]: f for f in doc["files"]}
    expected = {
        f"{side}/img_{i:04d}.{ext}"
        for i in range(PAIRS)
        for side, ext in (("images", "jpg"), ("masks", "png"))
    }
    assert set(files) == expected
    na001 = {f["path"] for f in doc["findings"] if f["check"] == "NA001"}
    for path, rec in files.items():
        if "error" in rec:
            assert rec["error"]["check"] == "NA001" and path in na001, rec
        else:
            assert ("pixels" if path.startswith("images/") else "labels") in rec, rec
    assert doc["summary"]["pairs"] == PAIRS
    assert wait_for(lambda: not session(proc.pid), timeout=10), session(proc.pid)


def test_sigterm_exits_143_and_removes_the_record_store(big: Path, tmp_path: Path) -> None:
    """SIGTERM (a cancelled CI job, ``timeout``) killed the scan at once and left its record
    store in the temporary folder (830 MB for a million files). It stops as Ctrl-C does now:
    exit 143, one line, the store and the report's temporary file removed."""
    scratch, out = tmp_path / "tmp", tmp_path / "report.json"
    scratch.mkdir()
    spill_at_once = (
        "import sys, nanaudit.store as s; s.MEMORY_BUDGET = 0; "
        "from nanaudit.cli import main; sys.exit(main())"
    )
    with open(tmp_path / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-c", spill_at_once, "scan", str(big), "--jobs", "1"),
                *("--no-cache", "--no-progress", "--output", f"json:{out}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "TMPDIR": str(scratch)},
            start_new_session=True,
        )
    try:
        assert wait_for(lambda: any(scratch.glob("nanaudit-records-*")), timeout=30), (
            "the scan made no record store"
        )
        time.sleep(0.3)
        assert proc.poll() is None, "the scan ended before it could be terminated"
        os.kill(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    stderr = (tmp_path / "stderr.txt").read_text(errors="replace")
    assert code == 143, stderr
    assert "nanaudit: terminated" in stderr and "Traceback" not in stderr
    assert list(scratch.iterdir()) == []
    assert not out.exists()
