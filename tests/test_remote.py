"""Remote storage on a real S3 server: moto's server on loopback (started and stopped here),
a dataset uploaded with boto3, and scans of s3://bucket/prefix that equal the scans of the
same folder on disk. The server's own request log says what the scans asked of it."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import pickle
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_pairs, natural_image, need_module, sample_with_leaks, save
from PIL import Image

import nanaudit
from nanaudit.cli import cli
from nanaudit.collect import plan_tasks
from nanaudit.formats import Format, render
from nanaudit.plan import plan_for_api
from nanaudit.pool import audit
from nanaudit.records import encode
from nanaudit.storage import LIST_THREADS, RemoteStorage

BUCKET = "datasets"


class RequestLog(logging.Handler):
    """The S3 server's access log (werkzeug's), as request lines: "GET /bucket/key"."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = re.sub(r"\x1b\[[0-9;]*m", "", record.getMessage())  # its colours
        found = re.search(r'"(GET|PUT|HEAD|POST|DELETE) ([^ ]+)', message)
        if found:
            self.lines.append(f"{found.group(1)} {found.group(2)}")

    def take(self) -> list[str]:
        lines, self.lines = self.lines, []
        return lines


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """moto's S3 server on a free loopback port, the AWS_* variables pointing at it, and
    the sample dataset (with leaks) uploaded under s3://datasets/sample/ with boto3."""
    need_module("s3fs")
    boto3 = need_module("boto3")
    server_mod = need_module("moto.server")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    log = RequestLog()
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.addHandler(log)
    werkzeug.setLevel(logging.INFO)
    werkzeug.propagate = False
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            mp.delenv(k, raising=False)
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket=BUCKET)
        local = sample_with_leaks(tmp_path_factory.mktemp("remote") / "sample")
        tiny = make_pairs(tmp_path_factory.mktemp("remote") / "tiny", 3)
        uploads = [
            (path, f"{prefix}/{path.relative_to(folder).as_posix()}")
            for prefix, folder in (("sample", local), ("tiny", tiny))
            for path in sorted(p for p in folder.rglob("*") if p.is_file())
        ]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda u: client.upload_file(str(u[0]), BUCKET, u[1]), uploads))
        log.take()
        try:
            yield {"client": client, "local": local, "endpoint": endpoint, "log": log}
        finally:
            import s3fs

            s3fs.S3FileSystem.clear_instance_cache()
            server.stop()
            werkzeug.removeHandler(log)
            werkzeug.propagate = True


def masked(text: str, root: str) -> dict[str, Any]:
    """A JSON report with its root (and the config file's place below it) masked."""
    doc = json.loads(text)
    assert doc["root"] == root
    doc["root"] = "ROOT"
    if doc["config"]["config_file"]:
        doc["config"]["config_file"] = doc["config"]["config_file"].replace(root, "ROOT")
    return doc  # type: ignore[no-any-return]


def test_a_bucket_scans_as_the_same_folder_on_disk(s3: dict[str, Any]) -> None:
    local = s3["local"]
    runner = CliRunner()
    on_disk = runner.invoke(cli, ["scan", str(local), "--format", "json", "-j", "1"])
    in_bucket = runner.invoke(
        cli, ["scan", f"s3://{BUCKET}/sample", "--format", "json", "-j", "1", "--no-cache"]
    )
    assert (on_disk.exit_code, in_bucket.exit_code) == (1, 1), in_bucket.stderr
    remote = masked(in_bucket.stdout, f"s3://{BUCKET}/sample")
    assert remote == masked(on_disk.stdout, str(local))
    assert remote["config"]["config_file"] == "ROOT/nanaudit.toml"  # the config beside the data
    assert {f["check"] for f in remote["findings"]} >= {"NA101", "NA206", "NA306", "NA307"}
    requests = s3["log"].take()
    listings = [r for r in requests if "list-type=2" in r]
    gets = [r for r in requests if r.startswith("GET") and "list-type" not in r]
    files = len(remote["files"])
    # the first levels a request each (fewer folders than threads: two levels), then each
    # folder's keys in a listing of its own (concurrently), no folder listed twice
    top = [p for p in local.iterdir() if p.is_dir()]
    second = [p for t in top for p in t.iterdir() if p.is_dir()]
    assert len(top) < LIST_THREADS and len(set(listings)) == len(listings)
    assert sum("delimiter=/" in r for r in listings) == 1 + len(top)
    assert len(listings) == 1 + len(top) + len(second)
    # every file read once, streamed: no upload, no copy
    assert files <= len(gets) <= 2 * files + 1
    assert not [r for r in requests if r.startswith(("PUT", "POST", "DELETE"))]


def test_storage_options_and_the_cache_keyed_by_etag(
    s3: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # the endpoint comes from the storage option
    url = f"s3://{BUCKET}/tiny"

    def run() -> tuple[nanaudit.Report, list[str]]:
        report = nanaudit.scan(
            url, cache_dir=tmp_path / "cache", storage_options={"endpoint_url": s3["endpoint"]}
        )
        return report, [r for r in s3["log"].take() if "/tiny/" in r]

    first, cold = run()
    second, warm = run()
    assert render(second, Format.JSON) == render(first, Format.JSON)
    assert len(first.files) == 6 and len(cold) == 6 and warm == []  # all from the cache
    # a new upload changes the object's ETag: that object alone is read again
    key = "tiny/images/img_001.png"
    save(tmp_path / "x.png", np.full((64, 64, 3), 7, np.uint8))
    s3["client"].upload_file(str(tmp_path / "x.png"), BUCKET, key)
    s3["log"].take()
    third, after = run()
    assert after == [f"GET /{BUCKET}/{key}"]
    assert "NA103" not in {f.check for f in first.findings}
    assert [f.path for f in third.findings if f.check == "NA103"] == ["images/img_001.png"]


def test_a_worker_streams_objects_with_what_its_task_carries(s3: dict[str, Any]) -> None:
    """Pool and Dask workers get the storage by pickle: its URL and options, no listing;
    the task carries the object's size, so a worker spends one request a file."""
    plan = plan_for_api(f"s3://{BUCKET}/tiny", None, {})
    tasks = list(plan_tasks(plan).values())
    here = [encode(audit(t, plan.limits)) for t in tasks]
    shipped = pickle.loads(pickle.dumps(tasks))
    assert shipped[0].storage._files is None and shipped[0].size == tasks[0].size
    shipped[0].storage.fs.invalidate_cache()  # a fresh process knows nothing of the bucket
    s3["log"].take()
    assert [encode(audit(t, plan.limits)) for t in shipped] == here
    assert {r.split()[0] for r in s3["log"].take()} == {"GET"}
    unsized = [dataclasses.replace(t, size=None) for t in shipped]
    assert [encode(audit(t, plan.limits)) for t in unsized] == here
    assert sorted({r.split()[0] for r in s3["log"].take()}) == ["GET", "HEAD"]


def test_a_listing_is_paged_and_read_once(s3: dict[str, Any]) -> None:
    """Past 1,000 keys S3 answers in pages: every page is read, once. (What 10,000 objects
    cost, and that the cost grows linearly, benchmarks/bench_remote.py measures: moto and
    botocore take about a second per page here, too long for the test suite.)"""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    from nanaudit.storage import RemoteStorage

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    backend.create_bucket("many", "us-east-1")
    for i in range(1_001):  # straight into the server's store: a PUT each would take long
        backend.put_object("many", f"d/images/0/{i:05d}.png", b"x")
    for i in (1, 2):
        backend.put_object("many", f"d/images/{i}/{1000 + i:05d}.png", b"x")
    s3["log"].take()
    storage = RemoteStorage("s3://many/d")
    listing = storage.listing()
    assert storage.listing() is listing
    requests = s3["log"].take()
    assert len(listing) == 1_003
    # d/ and d/images/ a request each, then the keys of images/0, 1 and 2: 1,000 a page
    assert len(requests) == 6 and all("list-type=2" in r for r in requests)
    assert sum("delimiter=/" in r for r in requests) == 2
    assert sum("continuation-token=" in r for r in requests) == 1
    assert [e.name for e in storage.entries(storage.root / "images")] == ["0", "1", "2"]
    assert storage.is_file(storage.root / "images/2/01002.png")
    assert not storage.is_file(storage.root / "images/2")
    assert storage.is_dir(storage.root / "images/2")


def test_top_level_folders_are_listed_apart_into_what_one_listing_gives(
    s3: dict[str, Any],
) -> None:
    """The top-level folders of a root are listed concurrently (at most LIST_THREADS at
    once), each in a paged listing of its own: the same keys, details and order as one
    listing of the whole prefix, a folder never listed twice, no key of a sibling prefix."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    backend.create_bucket("wide", "us-east-1")
    # more folders than threads; "c-1" sorts before "c/" as a key, after "c" as a folder
    folders = ["a", "b b", "c", "c-1", "d", "e", "f", "g", "h", "%41", "ü"]
    assert len(folders) > LIST_THREADS
    keys = [f"root/{f}/{i:02d}.png" for f in folders for i in range(3)]
    keys += ["root/top.txt", "root/c/deep/er/x.png", "root/c-1.png", "rootless/y.png"]
    for n, key in enumerate(keys):
        backend.put_object("wide", key, b"x" * (n + 1))
    s3["log"].take()
    storage = RemoteStorage("s3://wide/root")
    listing = storage.listing()
    requests = s3["log"].take()
    assert sum("delimiter=/" in r for r in requests) == 1
    assert len(requests) == 1 + len(folders) and len(set(requests)) == len(requests)
    storage.fs.invalidate_cache()
    whole = storage.fs.find("wide/root", detail=True)  # the one paged listing, as before
    assert list(listing) == [name.removeprefix("wide/root/") for name in whole]
    assert [(i["size"], i["ETag"]) for i in listing.values()] == [
        (i["size"], i["ETag"]) for i in whole.values()
    ]
    assert "rootless/y.png" not in listing and "c/deep/er/x.png" in listing

    # two top-level folders are fewer than the threads: their own folders are listed apart
    for key in [f"two/{a}/{b}/{i}.png" for a in ("images", "masks") for b in "xyz" for i in "01"]:
        backend.put_object("wide", key, key.encode())
    backend.put_object("wide", "two/images/flat.png", b"x")
    s3["log"].take()
    two = RemoteStorage("s3://wide/two").listing()
    requests = s3["log"].take()
    assert sum("delimiter=/" in r for r in requests) == 3  # two/, two/images/, two/masks/
    assert len(requests) == 3 + 6 and len(set(requests)) == len(requests)
    storage.fs.invalidate_cache()
    whole = storage.fs.find("wide/two", detail=True)
    assert list(two) == [name.removeprefix("wide/two/") for name in whole]
    assert len(two) == 13


def test_a_key_too_long_to_be_a_path_is_noted_not_audited(tmp_path: Path) -> None:
    """A listing is untrusted: a key longer than MAX_KEY_LENGTH (an HTTP page's link can be
    any length) names no file, like a key with an empty segment."""
    import fsspec

    from nanaudit.storage import MAX_KEY_LENGTH, RemoteStorage

    fs = fsspec.filesystem("memory")
    long_name = "x" * MAX_KEY_LENGTH
    for key in ("long/images/train/a.png", f"long/images/train/{long_name}.png"):
        with fs.open(key, "wb") as fh:
            fh.write(b"x")
    try:
        storage = RemoteStorage("memory://long")
        assert list(storage.listing()) == ["images/train/a.png"]
        assert storage.pathless == (f"images/train/{long_name}.png",)
    finally:
        fs.rm("long", recursive=True)


def test_keys_that_name_no_path_are_noted_not_walked_forever(s3: dict[str, Any]) -> None:
    """Object keys are any strings: a//b.png or a/./b.png would, as paths, alias another
    file or list a folder inside itself (discovery looped forever). They are left out and
    named; keys that are odd but are paths (spaces, %, ?, #, markup) are audited."""
    client, bucket = s3["client"], "odd-keys"
    client.create_bucket(Bucket=bucket)
    odd = ["a b", "%41", "x?y#1", "<b>"]
    for name in [*odd, "train_000"]:
        for kind, array in (("images", natural_image(3)), ("masks", np.zeros((64, 64), "u1"))):
            buf = io.BytesIO()
            Image.fromarray(array).save(buf, "PNG")
            client.put_object(Bucket=bucket, Key=f"d/{kind}/train/{name}.png", Body=buf.getvalue())
    for key in ("d/images/train//dbl.png", "d/images/train/./dot.png", "d/masks/train/../up.png"):
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    result = CliRunner().invoke(cli, ["scan", f"s3://{bucket}/d", "--format", "json", "-C", "2"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert sorted(f["path"] for f in doc["files"]) == sorted(
        f"{kind}/train/{name}.png" for kind in ("images", "masks") for name in [*odd, "train_000"]
    )
    assert not [f for f in doc["files"] if f.get("error")]
    notes = " ".join(doc["layout"]["notes"])
    assert f"s3://{bucket}/d/images/train: 2 objects not audited" in notes
    assert f"s3://{bucket}/d/masks/train: 1 object not audited" in notes


def test_an_http_folder_without_sizes_and_a_url_with_a_password(tmp_path: Path) -> None:
    """Any fsspec URL: an HTTP server's folder pages (Python's http.server on loopback)
    give no sizes, which are asked of the server, not taken for 0 (every file was "empty");
    the password of a URL stays out of the reports and messages."""
    need_module("aiohttp")
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    root = make_pairs(tmp_path / "d", 3)
    (root / "images" / "broken.png").write_bytes(b"not a picture")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://reader:hunter2@127.0.0.1:{server.server_address[1]}/d"
        runner = CliRunner()
        remote = runner.invoke(cli, ["scan", url, "--no-cache", "--format", "json"])
        local = runner.invoke(cli, ["scan", str(root), "--no-cache", "--format", "json"])
    finally:
        server.shutdown()
        server.server_close()
    assert remote.exit_code == local.exit_code == 1, remote.stderr
    assert "hunter2" not in remote.stdout + remote.stderr
    shown = url.replace("reader:hunter2@", "")
    docs = [masked(remote.stdout, shown), masked(local.stdout, str(root))]
    (broken,) = [f for f in docs[0]["files"] if f["path"].endswith("broken.png")]
    assert broken["error"]["check"] == "NA001" and "127.0.0.1" in broken["error"]["reason"]
    for doc in docs:  # the decoder names the stream: by its URL, or by its path
        for item in (*doc["files"], *doc["findings"]):
            if item["path"].endswith("broken.png"):
                item.pop("error", None), item.pop("message", None), item.pop("data", None)
    assert docs[0] == docs[1]


def test_remote_errors_are_one_line_and_exit_2(s3: dict[str, Any]) -> None:
    runner = CliRunner()
    empty = "(no object there: check the bucket and prefix)"
    cases = {  # named by their URLs, not by the pipeline's /bucket/prefix paths
        f"s3://{BUCKET}/nothing-here": f"layout found in s3://{BUCKET}/nothing-here {empty}",
        "s3://no-such-bucket/x": f"layout found in s3://no-such-bucket/x {empty}",
        f"s3://{BUCKET}/sample/images": f"layout found in s3://{BUCKET}/sample/images. Looked",
        "nosuchprotocol://x/y": "nosuchprotocol",
    }
    for url, message in cases.items():
        result = runner.invoke(cli, ["scan", url, "--format", "json"])
        assert result.exit_code == 2, (url, result.stderr, result.exception)
        assert message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert url.startswith("nosuch") or "--images" not in result.stderr  # local folders
    result = runner.invoke(cli, ["scan", f"s3://{BUCKET}/sample", "--images", "x"])
    assert result.exit_code == 2 and "name local folders" in result.stderr
    result = runner.invoke(cli, ["scan", f"s3://{BUCKET}/sample", "--layout", "voc"])
    assert result.exit_code == 2 and f"not found in s3://{BUCKET}/sample\n" in result.stderr
    assert os.environ["AWS_ENDPOINT_URL"] == s3["endpoint"]


def test_storage_options_are_typed_as_fsspec_expects() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["scan", "s3://b/p", "--storage-option", "anon"])
    assert result.exit_code == 2 and "--storage-option: expected KEY=VALUE" in result.stderr
    from nanaudit.kinds import Where
    from nanaudit.options import KeyValues

    parsed = KeyValues().parse(
        ["anon=true", "max_concurrency=12", "endpoint_url=http://h:1/?a=b"], Where("", "x")
    )
    assert parsed == (("anon", True), ("endpoint_url", "http://h:1/?a=b"), ("max_concurrency", 12))


def _upload(client: Any, folder: Path, prefix: str) -> None:
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        client.upload_file(str(path), BUCKET, f"{prefix}/{path.relative_to(folder).as_posix()}")


def test_a_decathlon_dataset_json_in_a_bucket_is_its_catalogue(
    s3: dict[str, Any], tmp_path: Path
) -> None:
    """dataset.json read from the bucket as from disk: class names, the CT channel and the
    nnU-Net CT clipping range (the image's task streams its label volume too)."""
    need_module("nibabel")
    from test_volumes import ct_decathlon

    local = ct_decathlon(tmp_path / "Dataset003_Liver", cases=3)
    _upload(s3["client"], local, "liver")
    on_disk = nanaudit.scan(local)
    in_bucket = nanaudit.scan(f"s3://{BUCKET}/liver")
    assert in_bucket.layout == on_disk.layout == "decathlon"
    assert (
        in_bucket.labels.class_names
        == on_disk.labels.class_names
        == ("background", "liver", "tumour")
    )
    clips = [
        next(s for s in r.splits if s.name == "train").training.normalize.nnunet_ct  # type: ignore[union-attr]
        for r in (in_bucket, on_disk)
    ]
    assert clips[0] is not None and clips[0] == clips[1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x" * (2 << 20), "larger than 1,048,576 bytes"),
        ("{" * 100_000, "not valid JSON"),
        (json.dumps({"labels": {str(i): "x" for i in range(5000)}}), "5,000 labels"),
        (json.dumps({"labels": {"background": 0, "huge": 10**12}}), "outside [0, 65536)"),
    ],
)
def test_a_hostile_dataset_json_in_a_bucket_is_a_one_line_error(
    s3: dict[str, Any], tmp_path: Path, text: str, message: str
) -> None:
    need_module("nibabel")
    from test_volumes import ct_decathlon

    local = ct_decathlon(tmp_path / "Task09", cases=1)
    (local / "dataset.json").write_text(text)
    prefix = f"hostile-{len(text)}-{abs(hash(text)) % 10**6}"
    _upload(s3["client"], local, prefix)
    s3["log"].take()
    result = CliRunner().invoke(cli, ["scan", f"s3://{BUCKET}/{prefix}", "--no-cache"])
    assert result.exit_code == 2, (result.stderr, result.exception)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert f"s3://{BUCKET}/{prefix}/dataset.json" in result.stderr  # named by its URL
    assert len(result.stderr.strip().splitlines()) == 1
    asked = s3["log"].take()
    assert any(line.startswith("GET") for line in asked)  # the listing, at least
    got = [line for line in asked if line.startswith("GET") and line.endswith("/dataset.json")]
    assert len(got) == (0 if len(text) > 1 << 20 else 1)  # too large: refused from its size
