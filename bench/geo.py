"""Region-snapshot figures for `make bench`: a country at a city-level grid (H3 resolution 5,
cells of about 250 km²) and the whole base, through GET /api/v1/geo/snapshot.

  geo.py BASE TOKEN    prints `country_ms=best/worst country_cells=N all_ms=best/worst all_records=N`
"""
import json
import sys
import time
import urllib.request


def get(base, token, path):
    req = urllib.request.Request(base + path)
    req.add_header("Authorization", "Bearer " + token)
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as r:
        out = json.loads(r.read())
    return (time.perf_counter() - t) * 1000, out


def timed(base, token, path, runs=5):
    times, out = [], None
    for _ in range(runs):
        ms, out = get(base, token, path)
        times.append(ms)
    return f"{min(times):.0f}/{max(times):.0f}", out


def main():
    base, token = sys.argv[1], sys.argv[2]
    country, snap = timed(base, token, "/api/v1/geo/snapshot?country=KR&resolution=5")
    everything, whole = timed(base, token, "/api/v1/geo/snapshot?bbox=-90,-180,90,180&resolution=5")
    records = whole["leads"] + whole["prospects"] + whole["customers"] + whole["contacts"]
    print(f"country_ms={country} country_cells={len(snap['cells'])} all_ms={everything} all_records={records} "
          f"all_cells={len(whole['cells'])}")


main()
