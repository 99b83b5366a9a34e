#!/usr/bin/env bash
# Runs the README's first command as a user would (`npm start`, after the `npm ci` CI already did) on a free
# port, waits for the sample to answer, checks that /catalogue answers MISS then HIT, and stops the app.
# Exits non-zero when the app does not start within its bound or does not cache.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

port=$(node -e "const s=require('node:net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
log=$(mktemp)
# Its own process group (npm -> sh -> node), so the whole tree stops with it.
PORT=$port setsid npm start >"$log" 2>&1 &
app=$!
cleanup() { kill -TERM -- "-$app" 2>/dev/null || true; wait "$app" 2>/dev/null || true; }
trap cleanup EXIT

for _ in $(seq 1 120); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/cache/metrics" 2>/dev/null; then break; fi
  if ! kill -0 "$app" 2>/dev/null; then echo 'npm start exited early:'; cat "$log"; exit 1; fi
  sleep 0.5
done
x_cache() { curl -fsS -D - -o /dev/null "http://127.0.0.1:$port/$1" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-cache"{print $2}'; }
first=$(x_cache catalogue); second=$(x_cache catalogue)
echo "GET /catalogue: X-Cache $first, then $second"
[ "$first" = MISS ] && [ "$second" = HIT ] || { echo 'expected MISS then HIT'; cat "$log"; exit 1; }
# /products/1 is a @Cacheable service method behind a pretend database: the same data twice.
data() { curl -fsS "http://127.0.0.1:$port/products/1" | node -e "let s='';process.stdin.on('data',c=>s+=c).on('end',()=>console.log(JSON.stringify(JSON.parse(s).data)))"; }
p1=$(data); p2=$(data)
[ -n "$p1" ] && [ "$p1" = "$p2" ] || { echo "GET /products/1 answered differently: $p1 / $p2"; exit 1; }
echo "GET /products/1 twice: same data $p1"
echo 'sample app: OK'
