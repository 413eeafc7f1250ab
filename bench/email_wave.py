"""Campaign email figures for `make bench`, against the seeded database of the server at `base`
and the SMTP sink of bench/smtp_sink.py (its file: one `subject<TAB>recipient` line per message).

  email_wave.py start BASE TOKEN N NAME         a campaign NAME of N opted-in contacts, launched;
                                           prints `campaign=ID launch_ms=X members=N`
  email_wave.py finish BASE TOKEN SINK ID NAME  waits until nothing is queued (and what is being
                                           sent has settled), then prints `seconds=S sent=N
                                           in_doubt=N received=N duplicates=N rate=R`

`seconds` and `rate` run from the first call of `finish` (right after the launch) to the end.
"""
import json
import sys
import time
import urllib.request


def call(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read() or b"null")


def start(base, token, n, name):
    ids, cursor = [], None
    while len(ids) < n:
        path = "/api/v1/contacts?limit=1000&fields=id&filter=email_consent%5Beq%5D:opted_in"
        page = call(base, token, "GET", path + (f"&cursor={cursor}" if cursor else ""))
        ids += [c["id"] for c in page["data"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    ids = ids[:n]
    template = call(base, token, "POST", "/api/v1/email-templates", {
        "name": f"{name} template",
        "subject": "{{ campaign.name }}",
        "html": "<p>Dear {{ contact.first_name }} of {{ account.name }},</p>"
                "<p><a href=\"https://example.com/offer\">The offer</a></p>"
                "<p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>",
        "text": "Dear {{ contact.first_name }}, https://example.com/offer\nUnsubscribe: {{ unsubscribe_url }}",
    })
    nobody = call(base, token, "POST", "/api/v1/segments", {"name": f"{name} (none)", "criteria": "last_name[eq]:-"})
    campaign = call(base, token, "POST", "/api/v1/campaigns", {
        "name": name, "type": "newsletter", "channel": "email",
        "segment_ids": [nobody["id"]], "email_template_id": template["id"],
    })
    call(base, token, "POST", f"/api/v1/campaigns/{campaign['id']}/members", {"contact_ids": ids})
    t0 = time.perf_counter()
    call(base, token, "PATCH", f"/api/v1/campaigns/{campaign['id']}", {"status": "running"})
    launch_ms = (time.perf_counter() - t0) * 1000
    members = call(base, token, "GET", f"/api/v1/campaigns/{campaign['id']}/sending")["total"]
    print(f"campaign={campaign['id']} launch_ms={launch_ms:.0f} members={members}")


def received(sink, name):
    with open(sink) as f:
        return [line.rstrip("\n").split("\t")[1] for line in f if line.split("\t")[0] == name]


def finish(base, token, sink, campaign, name):
    t0 = time.perf_counter()
    last, stable_since = None, time.perf_counter()
    while True:
        p = call(base, token, "GET", f"/api/v1/campaigns/{campaign}/sending")
        now = time.perf_counter()
        if p["queued"] == 0 and p["sending"] == 0:
            break
        # After a kill -9, the messages the dead instance was handing over stay `sending` until
        # their lease runs out (minutes): once nothing is queued and they no longer move, stop.
        state = (p["queued"], p["sending"], p["sent"])
        if state != last:
            last, stable_since = state, now
        elif p["queued"] == 0 and now - stable_since > 3:
            break
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    got = received(sink, name)
    sent = p["sent"]
    print(
        f"seconds={seconds:.1f} sent={sent} in_doubt={p['sending'] + p['unknown']} received={len(got)} "
        f"duplicates={len(got) - len(set(got))} rate={sent / seconds:.0f}"
    )
    # The campaign's messages by status, for the log.
    print(json.dumps(p), file=sys.stderr)


cmd = sys.argv[1]
if cmd == "start":
    start(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
elif cmd == "finish":
    finish(*sys.argv[2:7])
else:
    sys.exit(f"unknown command {cmd}")
