"""Writes two batch bodies of 1000 contact upserts (batch-1 creates, batch-0 updates the same ids)."""
import json
import sys

d = sys.argv[1]
for n, suffix in ((1, "a"), (0, "b")):
    ops = [
        {"op": "upsert", "external_id": {"source": "bench", "id": f"B-{i}"},
         "data": {"first_name": f"F{i}", "last_name": f"Batch{suffix}", "email": f"b{i}@batch.example.com", "city": "Busan"}}
        for i in range(1000)
    ]
    with open(f"{d}/batch-{n}.json", "w") as f:
        json.dump({"operations": ops}, f)
