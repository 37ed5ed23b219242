"""Ray baseline for bench/dispatch.ts: N no-op tasks submitted at once and gathered with
ray.get([noop.remote() for _ in range(N)]) (tasks/s; Ray keeps no durable record of them),
then sequential round trips ray.get(noop.remote()) one at a time (p50/p99 ms).
Prints one JSON line. Run by bench/dispatch.ts with the project venv's python; by hand:
  .venv/bin/python bench/ray_baseline.py --tasks 20000 --seq 1000 --cpus 2
"""
import argparse, json, os, time

import ray


@ray.remote
def noop():
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", type=int, default=20000)
    p.add_argument("--seq", type=int, default=1000, help="sequential round trips for the latency figure")
    p.add_argument("--cpus", type=int, default=2)
    a = p.parse_args()
    ray.init(num_cpus=a.cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        ray.get([noop.remote() for _ in range(min(200, a.tasks))])  # warm the worker pool
        t = time.perf_counter()
        ray.get([noop.remote() for _ in range(a.tasks)])
        secs = time.perf_counter() - t
        lat = []
        for _ in range(a.seq):
            t = time.perf_counter()
            ray.get(noop.remote())
            lat.append((time.perf_counter() - t) * 1000)
        lat.sort()
        pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
        print(json.dumps(dict(ray=ray.__version__, cpus=a.cpus, tasks=a.tasks, seconds=secs, tasks_per_s=a.tasks / secs,
                              seq=a.seq, seq_p50_ms=pick(0.5), seq_p99_ms=pick(0.99), loadavg=os.getloadavg())), flush=True)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
