#!/usr/bin/env bash
# Simulation parity across stores: `deskdraft simulate` of a bundle on Qdrant Edge, on a Qdrant
# server and on a Qdrant cluster, then summary.json and tickets.csv compared apart from timings
# (and the store's description). Each store gets a fresh data dir and a fresh collection.
#
#   QDRANT_URL=http://127.0.0.1:6334 QDRANT_CLUSTER_URL=http://127.0.0.1:6514 \
#     scripts/qdrant-parity.sh knowledge/demo-bundle ../shared/datasets/twitter-care
#
# Either URL may be left unset to skip that store. The cluster collection is created with
# DESKDRAFT_STORE__SHARDS (default here 3) and DESKDRAFT_STORE__REPLICATION_FACTOR (default 2).
# Extra simulate arguments (e.g. --sample 100 --seed 7) go in SIMULATE_ARGS. Runs under nice.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh
[ $# -ge 1 ] || { echo "usage: $0 BUNDLE..." >&2; exit 2; }
nice -n 10 cargo build --quiet --bin deskdraft
bin=target/debug/deskdraft
out=${PARITY_OUT:-data/parity}
run_id=$(date +%s)
status=0
for bundle in "$@"; do
  name=$(basename "$bundle")
  stores=(edge)
  [ -n "${QDRANT_URL:-}" ] && stores+=(server)
  [ -n "${QDRANT_CLUSTER_URL:-}" ] && stores+=(cluster)
  for store in "${stores[@]}"; do
    dir=$out/$name/$store
    rm -rf "$dir" && mkdir -p "$dir"
    env_for_store=(DESKDRAFT_STORE__BACKEND=edge)
    case $store in
      server) env_for_store=(DESKDRAFT_STORE__BACKEND=qdrant DESKDRAFT_STORE__URL="$QDRANT_URL"
                             DESKDRAFT_STORE__COLLECTION="parity_${name//-/_}_server_$run_id") ;;
      cluster) env_for_store=(DESKDRAFT_STORE__BACKEND=qdrant DESKDRAFT_STORE__URL="$QDRANT_CLUSTER_URL"
                              DESKDRAFT_STORE__COLLECTION="parity_${name//-/_}_cluster_$run_id"
                              DESKDRAFT_STORE__SHARDS="${DESKDRAFT_STORE__SHARDS:-3}"
                              DESKDRAFT_STORE__REPLICATION_FACTOR="${DESKDRAFT_STORE__REPLICATION_FACTOR:-2}") ;;
    esac
    start=$(date +%s)
    # shellcheck disable=SC2086
    env "${env_for_store[@]}" nice -n 10 "$bin" --data-dir "$dir/data" simulate \
      --bundle "$bundle" --out "$dir/report" ${SIMULATE_ARGS:-} >"$dir/simulate.log" 2>&1
    echo "$name on $store: $(head -1 "$dir/simulate.log") ($(( $(date +%s) - start )) s)"
  done
  for store in "${stores[@]:1}"; do
    if python3 - "$out/$name/edge/report" "$out/$name/$store/report" <<'PY'
import csv, json, sys

def summary(folder):
    data = json.load(open(f"{folder}/summary.json"))
    data.pop("timings", None)
    run = data.get("run", {})
    for key in list(run):
        if "store" in key or key in ("started_at", "finished_at", "out", "data_dir"):
            run.pop(key)
    # Where the store is (the point of the comparison), not what it computed.
    configuration = run.get("configuration", {})
    configuration.pop("store", None)
    configuration.pop("data_dir", None)
    return data

def tickets(folder):
    rows = list(csv.DictReader(open(f"{folder}/tickets.csv")))
    return [{k: v for k, v in row.items() if "millis" not in k and "latency" not in k} for row in rows]

def diff(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from diff(a.get(key), b.get(key), f"{path}.{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from diff(x, y, f"{path}[{i}]")
    elif a != b:
        yield f"{path}: {a!r} != {b!r}"

edge, other = sys.argv[1], sys.argv[2]
summary_diffs = list(diff(summary(edge), summary(other)))
ta, tb = tickets(edge), tickets(other)
ticket_diffs = [(x.get("ticket_id"), k) for x, y in zip(ta, tb) for k in x if x[k] != y.get(k)]
print(f"  summary.json differences: {len(summary_diffs)}")
for line in summary_diffs[:20]:
    print(f"    {line}")
changed = sorted({t for t, _ in ticket_diffs})
print(f"  tickets.csv: {len(ta)} vs {len(tb)} rows, {len(changed)} tickets differ"
      + (f" (columns: {sorted({k for _, k in ticket_diffs})})" if changed else ""))
sys.exit(1 if summary_diffs or len(ta) != len(tb) or changed else 0)
PY
    then echo "$name: edge == $store"; else echo "$name: edge != $store"; status=1; fi
  done
done
exit $status
