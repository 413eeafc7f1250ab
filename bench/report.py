"""Turns bench results (TSV) into the table printed and committed in docs/PERFORMANCE.md."""
import datetime
import sys

results, machine, dur, conns, out = sys.argv[1:6]
rows = [line.rstrip("\n").split("\t") for line in open(results) if line.strip()]

def num(x):
    try:
        return float(x)
    except ValueError:
        return None

lines = [
    f"Measured {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC on {machine}; release build; wrk, "
    f"{conns} connections, {dur} s per scenario. `ratio` = req/s divided by the lower of the two "
    "ceilings measured in the same run (the database answering the same queries directly, in "
    "alternation with the scenario: ceiling, HTTP, HTTP, ceiling, half the scenario time per round; "
    "and this stack serving a fixed JSON from /healthz); for GraphQL it is the ratio to the REST "
    "list, measured in alternation with it (three rounds of each, half the scenario time per round).",
    "",
    "| backend | scenario | req/s (or ms) | p50 ms | p99 ms | errors | server RSS MB | db ceiling /s | ratio |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
]
http_ceiling = {r[0]: num(r[2]) for r in rows if r[1].startswith("http ceiling")}
for backend, scenario, rps, p50, p99, errors, rss, ceiling in rows:
    ratio = "-"
    r = num(rps)
    if ceiling.startswith("rest:"):
        ref = num(ceiling[5:])
        ratio = f"{r / ref:.2f}" if r and ref else "-"
        ceiling = "-"
    elif num(ceiling) and r:
        low = min(num(ceiling), http_ceiling.get(backend) or num(ceiling))
        ratio = f"{r / low:.2f}"
        ceiling = f"{num(ceiling):.0f}"
    rss_mb = f"{int(rss) / 1024:.0f}" if rss.isdigit() and int(rss) > 0 else "-"
    lines.append(f"| {backend} | {scenario} | {rps} | {p50} | {p99} | {errors} | {rss_mb} | {ceiling} | {ratio} |")
table = "\n".join(lines) + "\n"
print(table)

marker = "<!-- bench:results -->"
try:
    doc = open(out).read()
except FileNotFoundError:
    doc = f"# Performance\n\n{marker}\n{marker}\n"
head, _, rest = doc.partition(marker)
_, _, tail = rest.partition(marker)
open(out, "w").write(f"{head}{marker}\n{table}{marker}{tail}")
