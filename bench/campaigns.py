"""Campaign figures for `make bench`, against the seeded database of the server at `base`:
a segment preview with a relation criterion, materializing a campaign over every contact,
and the statistics of that campaign. Prints one line the bench records:
`preview_ms=best/worst preview_count=N materialize_ms=X members=N stats_ms=best/worst`."""
import json
import sys
import time
import urllib.request

base, token = sys.argv[1], sys.argv[2]


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as r:
        out = json.loads(r.read() or b"null")
    return out, (time.perf_counter() - t0) * 1000


def best_worst(times):
    return f"{min(times):.0f}/{max(times):.0f}"


criteria = "and(lifecycle_stage[eq]:customer,account.tier[in]:[gold,platinum])"
preview, times = None, []
for _ in range(5):
    preview, ms = call("POST", "/api/v1/segments/preview?limit=20", {"criteria": criteria})
    times.append(ms)
preview_ms = best_worst(times)

everyone, _ = call("POST", "/api/v1/segments", {"name": "Everyone (bench)"})
campaign, _ = call(
    "POST", "/api/v1/campaigns",
    {"name": "Bench wave", "type": "newsletter", "channel": "email", "segment_ids": [everyone["id"]]},
)
_, materialize_ms = call("PATCH", f"/api/v1/campaigns/{campaign['id']}", {"status": "scheduled"})
members, _ = call("GET", f"/api/v1/campaigns/{campaign['id']}/members?limit=1")

times = []
for _ in range(5):
    _, ms = call("GET", f"/api/v1/campaigns/{campaign['id']}/stats")
    times.append(ms)
print(
    f"preview_ms={preview_ms} preview_count={preview['count']} materialize_ms={materialize_ms:.0f} "
    f"members={members['total']} stats_ms={best_worst(times)}"
)
