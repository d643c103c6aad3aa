"""The Python peer: concurrent.futures.ProcessPoolExecutor running the same workloads as bench/workloads.mjs.

Run by bench/run.mjs, one trial per process:  python3 bench/peers/ppe.py <workload> '<params json>'
Prints one line `@@result {json}`.
"""
import hashlib
import json
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor, wait


def noop():
    return 0


def echo(value):
    return value


def double(x):
    return x * 2


BLOCK = bytes([7]) * (64 * 1024)


def hash_rounds(rounds):
    digest = bytes(32)
    for _ in range(rounds):
        digest = hashlib.sha256(digest + BLOCK).digest()
    return digest.hex()


now = time.perf_counter


def percentile(sorted_values, p):
    i = min(len(sorted_values) - 1, max(0, -(-p * len(sorted_values) // 100) - 1))
    return sorted_values[int(i)]


def warm(ex, n):
    wait([ex.submit(noop) for _ in range(n)])


def throughput(ex, n, warmup, **_):
    warm(ex, warmup)
    c0 = os.times()
    t0 = now()
    futures = [ex.submit(noop) for _ in range(n)]
    for f in futures:
        f.result()
    s = now() - t0
    c1 = os.times()
    return {"tasksPerSec": n / s, "ms": s * 1000, "parentCpuMs": (c1.user + c1.system - c0.user - c0.system) * 1000}


def roundtrip(ex, n, warmup, **_):
    for _ in range(warmup):
        ex.submit(noop).result()
    us = []
    for _ in range(n):
        t = now()
        ex.submit(noop).result()
        us.append((now() - t) * 1e6)
    us.sort()
    return {"p50us": percentile(us, 50), "p99us": percentile(us, 99), "meanUs": sum(us) / n}


def map_items(ex, n, chunksize, **_):
    warm(ex, 20)
    t0 = now()
    total = 0
    count = 0
    for v in ex.map(double, range(n), chunksize=chunksize):
        total += v
        count += 1
    s = now() - t0
    if count != n or total != n * (n - 1):
        raise RuntimeError(f"map returned {count} items summing to {total}")
    return {"itemsPerSec": n / s, "ms": s * 1000}


def echo_bytes(ex, bytes, n, **_):
    size = bytes
    warm_buf = b"\x01" * (1024 * 1024)
    ex.submit(echo, warm_buf).result()
    ex.submit(echo, warm_buf).result()
    buf = b"\xab" * size
    rates = []
    for _ in range(n):
        t0 = now()
        back = ex.submit(echo, buf).result()
        s = now() - t0
        if len(back) != size or back[-1] != 0xAB:
            raise RuntimeError(f"echo returned {len(back)} bytes")
        rates.append(size / 1048576 / s)
    rates.sort()
    return {"mibPerSec": rates[(len(rates) - 1) // 2], "best": rates[-1]}


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def parent(ex, n, window, **_):
    warm(ex, window)
    rss0 = rss_bytes()
    peak = rss0
    r0 = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process, the executor's manager thread too
    t0 = now()
    done = 0
    while done < n:
        wait([ex.submit(noop) for _ in range(window)])
        peak = max(peak, rss_bytes())
        done += window
    s = now() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_ms = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1000
    return {"cpuMsPer1k": cpu_ms / (n / 1000), "rssGrowthMiB": (peak - rss0) / 1048576, "rssMiB": peak / 1048576, "ms": s * 1000}


def main():
    workload = sys.argv[1]
    params = json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")
    workers = params.pop("workers", 2)
    params.pop("maxFrame", None)
    if workload == "cold":
        samples = []
        for _ in range(params.get("n", 1)):
            t0 = now()
            ex = ProcessPoolExecutor(max_workers=workers)
            ex.submit(noop).result()
            samples.append((now() - t0) * 1000)
            ex.shutdown()
        samples.sort()
        return {"ms": samples[(len(samples) - 1) // 2], "samples": samples}
    fn = {"throughput": throughput, "roundtrip": roundtrip, "map": map_items, "echo": echo_bytes, "parent": parent}[workload]
    with ProcessPoolExecutor(max_workers=workers) as ex:
        return fn(ex, **params)


if __name__ == "__main__":
    try:
        out = main()
        code = 0
    except Exception as e:  # reported to the harness, which records the trial as failed
        import traceback

        out = {"error": traceback.format_exc()}
        code = 1
    sys.stdout.write("@@result " + json.dumps(out) + "\n")
    sys.stdout.flush()
    sys.exit(code)
