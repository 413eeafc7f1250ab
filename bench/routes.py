"""Visit-route figures for `make bench`: plans of 25 and of 100 stops (points around Seoul,
a third with a two-hour window, fixed seed) through POST /api/v1/routes/plan.

  routes.py BASE TOKEN    prints `plan25_ms=best/worst plan100_ms=best/worst planned100=N`
"""
import json
import random
import sys
import time
import urllib.request


def plan(base, token, body):
    req = urllib.request.Request(base + "/api/v1/routes/plan", data=json.dumps(body).encode(), method="POST")
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as r:
        out = json.loads(r.read())
    return (time.perf_counter() - t) * 1000, out


def body(n, rng):
    stops = []
    for i in range(n):
        stop = {"location": {"latitude": 37.5665 + rng.uniform(-0.08, 0.08),
                             "longitude": 126.978 + rng.uniform(-0.1, 0.1)},
                "duration_minutes": 15}
        if i % 3 == 0:
            h = rng.randrange(0, 8)
            stop["earliest"] = f"2026-12-07T{h:02d}:00:00Z"
            stop["latest"] = f"2026-12-07T{h + 2:02d}:00:00Z"
        stops.append(stop)
    return {"start": {"latitude": 37.5665, "longitude": 126.978}, "start_at": "2026-12-07T00:00:00Z",
            "end_by": "2026-12-08T00:00:00Z", "stops": stops}


def main():
    base, token = sys.argv[1], sys.argv[2]
    rng = random.Random(20)
    out = []
    for n in (25, 100):
        b = body(n, rng)
        times = []
        for _ in range(5):
            ms, result = plan(base, token, b)
            times.append(ms)
        out.append(f"plan{n}_ms={min(times):.0f}/{max(times):.0f}")
        out.append(f"planned{n}={len(result['visits'])}")
    print(" ".join(out))


main()
