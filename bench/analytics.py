"""Analytics figures for `make bench`: a full refresh of the base as the server runs it (POST
/api/v1/analytics/refresh, the job followed to its end) with the server's peak memory sampled
every 50 ms, and where the time went (the job's timings).

  analytics.py BASE TOKEN SERVER_PID
     prints `seconds=S customers=N peak_rss_mb=M load_s=… fit_s=… associations_s=… write_s=… rules=R`
"""
import json
import sys
import time
import urllib.request


def call(base, token, method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main():
    base, token, pid = sys.argv[1], sys.argv[2], sys.argv[3]
    job = call(base, token, "POST", "/api/v1/analytics/refresh", {})
    peak = rss_mb(pid)
    deadline = time.time() + 600
    while job["status"] not in ("succeeded", "failed") and time.time() < deadline:
        time.sleep(0.05)
        peak = max(peak, rss_mb(pid))
        job = call(base, token, "GET", f"/api/v1/jobs/{job['id']}")
    if job["status"] != "succeeded":
        print(f"seconds=failed error={json.dumps(job.get('error'))}")
        return
    r = job["result"]
    t = r["timings"]
    rules = call(base, token, "GET", "/api/v1/analytics/associations?limit=500")
    print(f"seconds={r['seconds']:.1f} customers={r['customers']} peak_rss_mb={peak:.0f} load_s={t['load']:.1f} "
          f"fit_s={t['fit']:.1f} associations_s={t['associations']:.2f} write_s={t['analyse_and_write']:.1f} "
          f"alerts_s={t['alerts']:.1f} rules={len(rules)}")


main()
