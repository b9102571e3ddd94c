"""S3 on loopback against the local disk, and what a listing costs as the bucket grows.

    python benchmarks/bench_remote.py                      # 300 pairs, 512×512 JPEG + PNG
    python benchmarks/bench_remote.py --pairs 100 --rounds 2 --objects 1000,2000,4000

Needs nanaudit[remote] and the test extra (moto's server, boto3). moto's S3 server runs in
a process of its own on a free loopback port; the dataset (bench.py's generator) is
uploaded to it with boto3. Then:

1. Scans, each a whole process (start-up included), one after the other in every round so
   that machine noise hits them alike: the folder on disk and the same files in the
   bucket, with --jobs 1 and --jobs 2, --no-cache. The reports are compared (root masked).
2. Listings: prefixes of N objects in folders of 1,000 (put straight into the server's
   store), listed in alternating rounds as one paged listing of the whole prefix (what
   nanaudit did before) and as RemoteStorage lists it (the top level, then its folders
   concurrently, LIST_THREADS at a time): seconds, pages of 1,000, seconds per 1,000
   objects (flat when the listing is linear) and the ratio of the two, taken per round.
   ``--latency-ms`` delays every request in the server, as S3's round trip over a
   network would (tens of milliseconds); ``--listing-only`` skips the scans.

moto is not S3: every request costs milliseconds of Python on this machine, where S3 costs
tens of milliseconds of network and none of our CPU. The ratios say what nanaudit adds per
object (requests, streaming through fsspec); they do not predict S3's latency.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import generate

SERVER = r"""
import logging, sys
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)
latency = float(sys.argv[1]) / 1000
if latency:  # every request waits as a network round trip would
    import time
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    serve = DomainDispatcherApplication.__call__
    def delayed(self, environ, start_response):
        time.sleep(latency)
        return serve(self, environ, start_response)
    DomainDispatcherApplication.__call__ = delayed
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
for line in sys.stdin:  # "fill BUCKET PREFIX N": N small objects, straight into the store
    _, bucket, prefix, n = line.split()
    if bucket not in backend.buckets:
        backend.create_bucket(bucket, "us-east-1")
    for i in range(int(n)):
        backend.put_object(bucket, f"{prefix}/{i // 1000}/{i:06d}.png", b"x")
    print("ok", flush=True)
server.stop()
"""


def timed(args: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "nanaudit", *args],
        capture_output=True,
        env=env,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"nanaudit {' '.join(args)}: {done.stderr.decode()[-500:]}")
    return time.perf_counter() - start, done.stdout


def masked(report: bytes) -> str:
    doc = json.loads(report)
    doc["root"] = "ROOT"
    return json.dumps(doc, sort_keys=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--objects", default="2500,5000,10000")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--listing-only", action="store_true")
    args = parser.parse_args()

    import boto3

    tmp = tempfile.TemporaryDirectory()
    data = args.data or Path(tmp.name) / "data"
    if not args.listing_only and not (data / "images").is_dir():
        generate(data, args.pairs, args.size, "jpeg")
    files = sorted(p for p in data.rglob("*") if p.is_file()) if not args.listing_only else []
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.latency_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        port = int(server.stdout.readline())
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        }
        os.environ.update(env)
        client = boto3.client("s3")
        client.create_bucket(Bucket="bench")
        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda p: client.upload_file(
                        str(p), "bench", f"data/{p.relative_to(data).as_posix()}"
                    ),
                    files,
                )
            )
        upload = time.perf_counter() - start

        common = ["--no-cache", "--no-progress", "--format", "json"]
        modes = {
            f"local disk, --jobs {j}": ["scan", str(data), "--jobs", str(j), *common]
            for j in (1, 2)
        }
        modes.update(
            {
                f"S3 on loopback, --jobs {j}": [
                    "scan",
                    "s3://bench/data",
                    "--jobs",
                    str(j),
                    *common,
                ]
                for j in (1, 2)
            }
        )
        if args.listing_only:
            modes = {}
        best: dict[str, float] = {}
        reports: set[str] = set()
        for _ in range(args.rounds if modes else 0):
            for name, cmd in modes.items():
                seconds, out = timed(cmd, env)
                best[name] = min(best.get(name, seconds), seconds)
                reports.add(masked(out))

        import s3fs

        from nanaudit.storage import RemoteStorage

        def one_listing(url: str) -> int:
            s3fs.S3FileSystem.clear_instance_cache()
            storage = RemoteStorage(url)
            return len(storage.fs.find(storage.fs_root, detail=True))

        def by_folder(url: str) -> int:
            s3fs.S3FileSystem.clear_instance_cache()
            return len(RemoteStorage(url).listing())

        listings = []
        for n in (int(x) for x in args.objects.split(",")):
            server.stdin.write(f"fill many n{n} {n}\n")
            server.stdin.flush()
            assert server.stdout.readline().strip() == "ok"
            times: dict[str, list[float]] = {"one": [], "folders": []}
            counts = set()
            for _ in range(args.rounds):
                for name, way in (("one", one_listing), ("folders", by_folder)):
                    start = time.perf_counter()
                    counts.add(way(f"s3://many/n{n}"))
                    times[name].append(time.perf_counter() - start)
            listings.append((n, counts, times))
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)
    if modes:
        floor = best[next(iter(modes))]
        shape = f"{args.pairs} pairs, {args.size}×{args.size}"
        print(f"{len(files)} files ({shape}), uploaded in {upload:.1f} s")
        print(f"{'scan':<26} {'seconds':>8} {'files/s':>8} {'÷ local --jobs 1':>17}")
        for name, seconds in best.items():
            print(f"{name:<26} {seconds:8.2f} {len(files) / seconds:8.0f} {seconds / floor:17.2f}")
        print(f"reports identical (root masked): {'yes' if len(reports) == 1 else 'NO'}")
    print(
        f"listings, {args.rounds} alternating rounds, request latency {args.latency_ms:g} ms; "
        "median seconds (one listing of the prefix | by top-level folder)"
    )
    print(
        f"{'objects':>8} {'listed':>8} {'pages':>6} {'one s':>7} {'s/1,000':>8} "
        f"{'folders s':>9} {'s/1,000':>8} {'one ÷ folders (range)':>22}"
    )
    for n, counts, times in listings:
        one, folders = statistics.median(times["one"]), statistics.median(times["folders"])
        ratios = [a / b for a, b in zip(times["one"], times["folders"], strict=True)]
        listed = ",".join(f"{c:,}" for c in sorted(counts))
        print(
            f"{n:8,} {listed:>8} {-(-n // 1000):6} {one:7.2f} {1000 * one / n:8.3f} "
            f"{folders:9.2f} {1000 * folders / n:8.3f} {statistics.median(ratios):8.2f} "
            f"({min(ratios):.2f}–{max(ratios):.2f})"
        )
    tmp.cleanup()


if __name__ == "__main__":
    main()
