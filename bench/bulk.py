"""Bulk import and export figures for `make bench`, against the running server.

  bulk.py BASE TOKEN SERVER_PID ROWS
     prints `scan_records=N scan_pairs=P scan_s=S scan_peak_rss_mb=M import_rows=N import_rps=R import_peak_rss_mb=M import_peak_anon_mb=M export_rows=N
             export_rps=R export_peak_rss_mb=M export_peak_anon_mb=M
             stream_rows=N stream_rps=R`

First a duplicate scan of the contacts there are (the seed); then the import: a CSV of ROWS new contacts upserted by external id (source `erp`), uploaded as
`multipart/form-data` and followed to its end; the export is every contact as CSV, as a job,
then downloaded; the stream is the first 100,000 contacts streamed straight back. The server's
memory is sampled every 50 ms throughout each.
"""
import json
import sys
import time
import urllib.parse
import urllib.request


def call(base, token, method, path, body=None, content_type="application/json", raw=False):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, method=method, data=data)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=3600) as r:
        payload = r.read()
        return payload if raw else json.loads(payload)


def rss_mb(pid, field="VmRSS"):
    """The server's resident memory (VmRSS), or one part of it (RssAnon: what it allocated, without
    the pages of its binary that the kernel maps in), in MB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def follow(base, token, path, pid, done):
    """Polls a job to its end; returns it with the peaks of VmRSS and RssAnon seen meanwhile."""
    peak, anon = rss_mb(pid), rss_mb(pid, "RssAnon")
    while True:
        j = call(base, token, "GET", path)
        peak, anon = max(peak, rss_mb(pid)), max(anon, rss_mb(pid, "RssAnon"))
        if done(j):
            return j, peak, anon
        time.sleep(0.05)


def main():
    base, token, pid, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    # The duplicate scan of the seeded base (before the import adds its rows).
    job = call(base, token, "POST", "/api/v1/duplicates/scan", {"resources": ["contacts"]})
    job, scan_peak, _ = follow(base, token, f"/api/v1/jobs/{job['id']}", pid,
                            lambda j: j["status"] not in ("queued", "running"))
    scan = (job.get("result") or {}).get("contacts") or {}
    scan_part = (f"scan_records={scan.get('records', 'failed')} scan_pairs={scan.get('pairs', 0)} "
                 f"scan_s={scan.get('seconds', 0)} scan_peak_rss_mb={scan_peak:.0f} ")

    lines = ["Customer No,First,Last,E-mail,City,Tags"]
    for i in range(rows):
        lines.append(f"B-{i},Bulk,Person {i},bulk{i}@bench.example.com,Seoul,erp;bulk")
    csv = ("\n".join(lines) + "\n").encode()
    boundary = "----bench-bulk-boundary"
    request = {"resource": "contacts", "mode": "upsert", "source": "erp",
               "mapping": {"Customer No": "external_id", "First": "first_name", "Last": "last_name",
                           "E-mail": "email", "City": "city", "Tags": "tags"}}
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"import\"\r\n\r\n{json.dumps(request)}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bulk.csv\"\r\n\r\n").encode()
    body += csv + f"\r\n--{boundary}--\r\n".encode()
    started = call(base, token, "POST", "/api/v1/imports", body, f"multipart/form-data; boundary={boundary}")
    imp, imp_peak, imp_anon = follow(base, token, f"/api/v1/imports/{started['id']}", pid,
                           lambda j: j["status"] not in ("queued", "running"))
    if imp["status"] != "succeeded":
        print(f"import_rows=failed error={json.dumps(imp.get('error'))}")
        return

    t0 = time.time()
    ex = call(base, token, "POST", "/api/v1/exports", {"resource": "contacts", "format": "csv"})
    ex, ex_peak, ex_anon = follow(base, token, f"/api/v1/exports/{ex['id']}", pid,
                         lambda j: j["status"] not in ("queued", "running"))
    secs = time.time() - t0
    size = len(call(base, token, "GET", ex["download_url"], raw=True)) if ex.get("download_url") else 0

    # The streamed export takes at most 100,000 records: the largest city of the seed under that.
    stream_rows, stream_secs, city = 0, 0.0, "-"
    for c in ("Seoul", "Busan", "Berlin", "London", "Tokyo", "New York"):
        n = call(base, token, "GET", f"/api/v1/contacts?limit=1&count=true&filter=city%5Beq%5D:{urllib.parse.quote(c)}")["total"]
        if 10_000 <= n <= 100_000:
            city = c
            t0 = time.time()
            payload = call(base, token, "GET",
                           f"/api/v1/exports/stream?resource=contacts&filter=city%5Beq%5D:{urllib.parse.quote(c)}", raw=True)
            stream_secs = time.time() - t0
            stream_rows = payload.count(b"\n") - 1
            break
    print(scan_part + f"import_rows={imp['counts']['read']} import_created={imp['counts']['created']} "
          f"import_failed={imp['counts']['failed']} import_rps={imp['rows_per_second']} import_peak_rss_mb={imp_peak:.0f} import_peak_anon_mb={imp_anon:.0f} "
          f"export_rows={ex['rows']} export_rps={ex['rows'] / secs:.0f} export_bytes={size} export_peak_rss_mb={ex_peak:.0f} export_peak_anon_mb={ex_anon:.0f} "
          f"stream_city={city.replace(' ', '_')} stream_rows={stream_rows} "
          f"stream_rps={(stream_rows / stream_secs) if stream_secs else 0:.0f}")


main()
