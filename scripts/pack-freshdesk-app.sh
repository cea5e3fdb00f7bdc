#!/usr/bin/env bash
# Packs freshdesk-app/ into a zip for Freshdesk's custom-app upload, with the layout `fdk pack`
# produces: entries named `./manifest.json`, `./app/...`, `./config/...`, `./README.md` and
# `./digest.md5` (the md5 of the app/ files followed by manifest.json, as the FDK's digest handler
# computes it). That digest is our reproduction of the FDK's: the supported way to pack is the
# official FDK (`cd freshdesk-app && fdk validate && fdk pack`, output in freshdesk-app/dist/),
# which also lints the code; `--fdk` runs it when FDK is installed.
#
#   scripts/pack-freshdesk-app.sh [OUTPUT.zip]     default: target/freshdesk-app/deskdraft.zip
#   scripts/pack-freshdesk-app.sh --fdk            fdk pack, copied to target/freshdesk-app/
#
# The zip is reproducible: files in sorted order with a fixed timestamp.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--fdk" ]; then
  command -v fdk >/dev/null 2>&1 || { echo "pack: fdk is not installed (see freshdesk-app/README.md)" >&2; exit 2; }
  (cd freshdesk-app && fdk validate && fdk pack)
  mkdir -p target/freshdesk-app
  cp freshdesk-app/dist/freshdesk-app.zip target/freshdesk-app/deskdraft.zip
  rm -rf freshdesk-app/dist
  echo "packed with fdk: target/freshdesk-app/deskdraft.zip"
  exit 0
fi

out="${1:-target/freshdesk-app/deskdraft.zip}"
mkdir -p "$(dirname "$out")"

python3 - "freshdesk-app" "$out" <<'PY'
import hashlib, json, os, sys, zipfile

root, out = sys.argv[1], sys.argv[2]
JUNK = (".DS_Store", "Thumbs.db")

def files_under(folder):
    found = []
    for directory, dirs, names in os.walk(os.path.join(root, folder)):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if name in JUNK or name.startswith(".") or name.endswith("~"):
                continue
            found.append(os.path.relpath(os.path.join(directory, name), root))
    return sorted(found)

def read(relative):
    with open(os.path.join(root, relative), "rb") as f:
        return f.read()

with open(os.path.join(root, "manifest.json")) as f:
    manifest = json.load(f)
if manifest.get("platform-version") != "3.0":
    sys.exit("pack: manifest.json is not a platform 3.0 manifest")

app_files = files_under("app")
config_files = files_under("config")
if "config/iparams.json" not in config_files or "config/requests.json" not in config_files:
    sys.exit("pack: config/iparams.json and config/requests.json are required")

digest = hashlib.md5()
for relative in app_files + ["manifest.json"]:
    digest.update(read(relative))

entries = [(f, read(f)) for f in app_files + config_files + ["manifest.json"]]
if os.path.exists(os.path.join(root, "README.md")):
    entries.append(("README.md", read("README.md")))
entries.append(("digest.md5", digest.hexdigest().encode()))

tmp = out + ".tmp"
with zipfile.ZipFile(tmp, "w") as archive:
    for name, data in entries:
        # ZipInfo keeps the "./" prefix the FDK's packer gives every entry.
        info = zipfile.ZipInfo("./" + name, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        archive.writestr(info, data)
os.replace(tmp, out)
print(f"packed {len(entries)} files into {out} (digest {digest.hexdigest()})")
PY
