"""Combines two wrk rounds of one scenario ("RESULT rps=... p50_ms=..." lines of equal length)
into one: requests per second and p50 averaged, the worse p99, errors summed, the last RSS."""
import sys

rounds = [dict(kv.split("=", 1) for kv in line.split() if "=" in kv) for line in sys.argv[1:]]
print(
    f"RESULT rps={sum(float(r['rps']) for r in rounds) / len(rounds):.1f} "
    f"p50_ms={sum(float(r['p50_ms']) for r in rounds) / len(rounds):.3f} "
    f"p99_ms={max(float(r['p99_ms']) for r in rounds):.3f} "
    f"errors={sum(int(r['errors']) for r in rounds)} rss_kb={rounds[-1]['rss_kb']}"
)
