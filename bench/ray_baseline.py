"""Ray baseline for bench/dispatch.ts: N no-op tasks submitted at once and gathered with
ray.get([noop.remote() for _ in range(N)]) (tasks/s; Ray keeps no durable record of them),
repeated --repeats times on the same warm pool (tasks_per_s is their median, runs_per_s each),
then sequential round trips ray.get(noop.remote()) one at a time (p50/p99 ms).
With --inflight K: instead, N no-op tasks with K always in flight (ray.wait for one, submit the
next), each task's submit-to-result time (p50/p99/max ms; for bench/latency-trace.ts).
Prints one JSON line. Run by bench/dispatch.ts with the project venv's python; by hand:
  .venv/bin/python bench/ray_baseline.py --tasks 20000 --seq 1000 --cpus 2
"""
import argparse, json, os, statistics, time

import ray


@ray.remote
def noop():
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", type=int, default=20000)
    p.add_argument("--seq", type=int, default=1000, help="sequential round trips for the latency figure")
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--inflight", type=int, default=0, help="keep this many in flight and time each task instead")
    p.add_argument("--repeats", type=int, default=1, help="times the all-at-once run is repeated; the median is reported")
    a = p.parse_args()
    ray.init(num_cpus=a.cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        ray.get([noop.remote() for _ in range(min(200, a.tasks))])  # warm the worker pool
        if a.inflight > 0:
            print(json.dumps(in_flight(a.tasks, a.inflight, a.cpus)), flush=True)
            return
        rates = []
        for _ in range(max(1, a.repeats)):
            t = time.perf_counter()
            ray.get([noop.remote() for _ in range(a.tasks)])
            rates.append(a.tasks / (time.perf_counter() - t))
        lat = []
        for _ in range(a.seq):
            t = time.perf_counter()
            ray.get(noop.remote())
            lat.append((time.perf_counter() - t) * 1000)
        lat.sort()
        pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
        print(json.dumps(dict(ray=ray.__version__, cpus=a.cpus, tasks=a.tasks, tasks_per_s=statistics.median(rates), runs_per_s=rates,
                              seq=a.seq, seq_p50_ms=pick(0.5), seq_p99_ms=pick(0.99), loadavg=os.getloadavg())), flush=True)
    finally:
        ray.shutdown()


def in_flight(n, k, cpus):
    """n no-op tasks, k always in flight: each task's submit-to-result time."""
    sent, lat = {}, []
    t0 = time.perf_counter()
    def submit():
        ref = noop.remote()
        sent[ref] = time.perf_counter()
    for _ in range(min(k, n)):
        submit()
    submitted = min(k, n)
    while sent:
        done, _ = ray.wait(list(sent), num_returns=1)
        for ref in done:
            ray.get(ref)
            lat.append((time.perf_counter() - sent.pop(ref)) * 1000)
            if submitted < n:
                submit()
                submitted += 1
    secs = time.perf_counter() - t0
    lat.sort()
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    return dict(ray=ray.__version__, cpus=cpus, tasks=n, inflight=k, tasks_per_s=n / secs,
                p50_ms=pick(0.5), p99_ms=pick(0.99), max_ms=lat[-1], loadavg=os.getloadavg())


if __name__ == "__main__":
    main()
