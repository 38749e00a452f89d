"""The Gold SQL of chainlake in DuckDB over the same Silver Parquet files, for
`chainlake bench medallion` (which passes this file's text to python3 -c, with a spec file).

The spec names each Silver table's current Parquet files (from its Delta snapshot) and the Gold
jobs in the order chainlake runs them. Each Gold result is written as Parquet partitioned like
chainlake's table, and later jobs read it back (gold.fee_recipients_monthly reads the daily
table). Prints `job_seconds <table> <seconds>` per job and `gold_seconds <wall time of the Gold
layer>`.
"""
import glob
import json
import os
import sys
import time

import duckdb

spec = json.load(open(sys.argv[1]))
con = duckdb.connect()
con.execute("SET threads TO 2")
con.execute("CREATE SCHEMA silver")
con.execute("CREATE SCHEMA gold")
for name, files in spec["silver"].items():
    if not files:
        continue  # an empty table no Gold job reads (the job would fail, loudly)
    listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    con.execute(
        f"CREATE VIEW silver.{name} AS SELECT * FROM read_parquet([{listing}], hive_partitioning = true)"
    )
os.makedirs(spec["out"], exist_ok=True)
started = time.monotonic()
for job in spec["gold"]:
    job_started = time.monotonic()
    out = os.path.join(spec["out"], job["name"])
    sql = job["sql"].rstrip().rstrip(";")
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT PARQUET, PARTITION_BY ({job['partition']}), OVERWRITE_OR_IGNORE)")
    if glob.glob(f"{out}/**/*.parquet", recursive=True):
        source = f"read_parquet('{out}/**/*.parquet', hive_partitioning = true)"
    else:
        source = f"({sql}) WHERE false"  # no rows, so COPY wrote no file: the result's columns
    con.execute(f"CREATE VIEW gold.{job['name']} AS SELECT * FROM {source}")
    print(f"job_seconds {job['name']} {time.monotonic() - job_started:.3f}")
print(f"gold_seconds {time.monotonic() - started:.3f}")
