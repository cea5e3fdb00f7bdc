#!/usr/bin/env bash
# The main job on the embedded defaults: fetch the model (once), build, ingest the demo helpdesk in
# knowledge/, draft replies for its open tickets, and print them with their sources.
# No server, no API key, no network after the model is fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh

bash scripts/fetch-model.sh
echo "demo: building deskdraft"
cargo build --quiet --bin deskdraft
deskdraft=target/debug/deskdraft
data_dir=${DESKDRAFT_DATA_DIR:-./data/demo}

echo "demo: ingesting knowledge/demo-bundle and knowledge/docs into $data_dir"
"$deskdraft" --data-dir "$data_dir" ingest --bundle knowledge/demo-bundle --knowledge knowledge/docs
"$deskdraft" --data-dir "$data_dir" stats

echo
echo "demo: drafting replies for the open tickets in knowledge/open-tickets"
"$deskdraft" --data-dir "$data_dir" draft --ticket-json knowledge/open-tickets/*.json

echo
echo "demo: replaying the demo history leak-free (simulation)"
"$deskdraft" --data-dir "$data_dir" simulate --bundle knowledge/demo-bundle --out "$data_dir/report"
echo
echo "demo: done. Open $data_dir/report/report.html in a browser to read the simulation report."
