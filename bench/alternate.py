"""Combines alternating wrk rounds ("list RESULT ..." / "graphql RESULT ...") into one result line:
the GraphQL rounds' requests per second over their total time, the median p50, the worst p99,
the errors summed, the last RSS, and rest: the same rate for the REST list rounds."""
import statistics
import sys

seconds = float(sys.argv[1])
rounds = {"list": [], "graphql": []}
for arg in sys.argv[2:]:
    name, line = arg.split(" ", 1)
    fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    rounds[name].append(fields)

def rate(rs):
    return sum(int(r["requests"]) for r in rs) / (seconds * len(rs))

g = rounds["graphql"]
print(
    f"RESULT rps={rate(g):.1f} p50_ms={statistics.median(float(r['p50_ms']) for r in g):.3f} "
    f"p99_ms={max(float(r['p99_ms']) for r in g):.3f} errors={sum(int(r['errors']) for r in g)} "
    f"rss_kb={g[-1]['rss_kb']} rest={rate(rounds['list']):.1f}"
)
