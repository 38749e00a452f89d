"""Builds decode/signatures/{functions,events}.txt.gz from the public signature lists
(see decode/signatures/README.md for their provenance). Deterministic (gzip mtime 0).

usage: python3 infra/abi/build_signatures.py <dir with the three source files> decode/signatures
"""
import csv
import gzip
import json
import os
import sys

src, out = sys.argv[1], sys.argv[2]
functions = json.load(open(os.path.join(src, "mrluit-evm-function-signatures.json")))
with open(os.path.join(out, "functions.txt.gz"), "wb") as f:
    f.write(gzip.compress(("\n".join(functions) + "\n").encode(), 9, mtime=0))

plain = json.load(open(os.path.join(src, "mrluit-evm-event-hashes.json")))
rows = list(csv.DictReader(open(os.path.join(src, "otterscan-topic0-event-signatures.csv"))))
lines = ["# with parameter names and indexed markers (otterscan/topic0)"]
known = set()
for row in rows:
    lines += [v.strip() for v in row["with_parameter_names"].split(";") if v.strip()]
    known.add(row["signature"])
lines.append("# plain signatures, indexed inputs unknown (MrLuit/evm)")
lines += sorted(set(s for s in plain.values() if s not in known))
with open(os.path.join(out, "events.txt.gz"), "wb") as f:
    f.write(gzip.compress(("\n".join(lines) + "\n").encode(), 9, mtime=0))
