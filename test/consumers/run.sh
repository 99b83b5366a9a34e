#!/usr/bin/env bash
# The consumer check: packs the library as it would be published, installs the tarball into each app of
# test/consumers the way a user does (`npm install <file>.tgz`), builds the app, runs its own tests, boots its
# built server on a free port and checks over HTTP that a cached route answers X-Cache MISS then HIT and that
# a @Cacheable service method runs once. Also checks that the root `nest build` leaves the library's dist/ alone.
#
# Run from anywhere after the root `npm ci`: `bash test/consumers/run.sh`. Exits non-zero on the first failure.
# Hard part: each app is copied to a scratch folder outside the repository before installing, so Node and
# TypeScript cannot fall back on the repository's own node_modules (a dependency missing from the app's
# package.json fails here as it would for a user). CONSUMERS_KEEP=1 keeps that folder (its path is printed).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/layercache-consumers.XXXXXX")
export NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false NPM_CONFIG_UPDATE_NOTIFIER=false

SECONDS=0
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "${CONSUMERS_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

section() { printf '\n==================== consumers: %s (t=%ss) ====================\n' "$1" "$SECONDS"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
free_port() { node -e "const s = require('node:net').createServer(); s.listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"; }
# A checksum of every file below a folder (names and contents).
tree_sum() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1); }

# Starts `$@` in the background (output in $work/<name>.log) and records its pid in $started.
start_bg() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  started=$!
  pids+=("$started")
}

# Waits until the server on <port> answers at all (a 404 path: a probe must not fill the cache), or fails if
# <pid> exits or 60 s pass.
wait_http() {
  local port=$1 pid=$2 log=$3
  for _ in $(seq 1 120); do
    if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/consumer-check-probe"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "the server exited before answering on port $port"; }
    sleep 0.5
  done
  cat "$log" >&2
  fail "nothing answered on port $port within 60 s"
}

# GET <url>: prints the X-Cache header's value (empty when absent) and leaves the body in $work/body.
get() {
  curl -sS --fail --max-time 10 -D "$work/headers" -o "$work/body" "$1" || fail "GET $1"
  tr -d '\r' <"$work/headers" | awk 'tolower($1) == "x-cache:" { print $2 }'
}

# Checks that <url> answers X-Cache MISS, then HIT with the same body.
expect_miss_then_hit() {
  local url=$1 first second body
  first=$(get "$url")
  body=$(cat "$work/body")
  second=$(get "$url")
  [ "$first" = MISS ] || fail "GET $url: X-Cache '$first' on the first call, expected MISS"
  [ "$second" = HIT ] || fail "GET $url: X-Cache '$second' on the second call, expected HIT"
  [ "$(cat "$work/body")" = "$body" ] || fail "GET $url: the HIT body differs from the MISS body"
  echo "ok: GET $url -> X-Cache MISS, then HIT ($body)"
}

# Checks that <url> (a route over a @Cacheable method) answers <expected> twice: the method ran once.
expect_cached_body() {
  local url=$1 expected=$2 call
  for call in first second; do
    get "$url" >/dev/null
    [ "$(cat "$work/body")" = "$expected" ] || fail "GET $url ($call call): '$(cat "$work/body")', expected '$expected'"
  done
  echo "ok: GET $url -> $expected twice (the @Cacheable method ran once)"
}

apps=(nest11-cjs nest12-esm)
section "copy the apps to $work and start their npm ci (in the background, while the library is packed)"
declare -A ci_pid
for app in "${apps[@]}"; do
  mkdir -p "$work/$app"
  tar -C "$here/$app" --exclude=./node_modules --exclude=./dist -cf - . | tar -C "$work/$app" -xf -
  (cd "$work/$app" && exec npm ci --prefer-offline --no-audit --no-fund --loglevel=error) >"$work/$app-ci.log" 2>&1 &
  ci_pid[$app]=$!
  pids+=("${ci_pid[$app]}")
  echo "$app: npm ci started"
done

section 'pack the library (npm pack: prepack builds dist/ from scratch)'
cd "$root"
npm pack --pack-destination "$work" >"$work/pack.log" 2>&1 || { cat "$work/pack.log" >&2; fail 'npm pack'; }
tarball=$(find "$work" -maxdepth 1 -name 'nestjs-layercache-*.tgz')
[ -f "$tarball" ] || fail "npm pack wrote no tarball into $work"
echo "packed: $(basename "$tarball") ($(tar -tzf "$tarball" | wc -l) files)"

section 'root nest build leaves dist/ untouched'
before=$(tree_sum dist)
npx nest build
[ "$(tree_sum dist)" = "$before" ] || fail '`nest build` changed the library build in dist/ (nest-cli.json must build the sample elsewhere)'
[ -f .tmp/sample-build/sample/main.js ] || fail '`nest build` did not build the sample into .tmp/sample-build'
echo 'ok: dist/ unchanged; the sample was built into .tmp/sample-build'

# check_app <app> <main> <cached route> <@Cacheable route> <its expected body> <test script>...
check_app() {
  local app=$1 main=$2 cached=$3 cacheable=$4 expected=$5
  shift 5
  local dir="$work/$app" port redis_port='' script
  local env=()

  section "$app: install (npm ci, then npm install <tarball>)"
  cd "$dir"
  local ci_rc=0
  wait "${ci_pid[$app]}" || ci_rc=$?
  cat "$work/$app-ci.log"
  [ "$ci_rc" -eq 0 ] || fail "$app: npm ci exited with $ci_rc"
  npm install --no-save --prefer-offline --no-audit --no-fund --loglevel=error "$tarball"
  node -e "for (const p of ['nestjs-layercache', '@nestjs/core', 'typescript']) console.log(p, require('./node_modules/' + p + '/package.json').version)"

  section "$app: build (npm run build)"
  npm run build
  [ -f "$main" ] || fail "$app: the build wrote no $main"

  for script in "$@"; do
    section "$app: tests (npm run $script)"
    npm run "$script"
  done

  section "$app: boot the built server and check caching over HTTP"
  port=$(free_port)
  if [ "$app" = nest12-esm ]; then
    if command -v redis-server >/dev/null 2>&1; then
      redis_port=$(free_port)
      start_bg "$app-redis" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no
      env=("REDIS_URL=redis://127.0.0.1:$redis_port")
      echo "with Redis (L2) on port $redis_port"
    else
      echo 'redis-server not installed: booting memory-only'
    fi
  fi
  start_bg "$app" env PORT="$port" "${env[@]}" node "$main"
  local server=$started
  wait_http "$port" "$server" "$work/$app.log"
  expect_miss_then_hit "http://127.0.0.1:$port$cached"
  expect_cached_body "http://127.0.0.1:$port$cacheable" "$expected"
  if [ -n "$redis_port" ] && command -v redis-cli >/dev/null 2>&1; then
    local keys
    keys=$(redis-cli -p "$redis_port" --scan --pattern "$app:*" | wc -l)
    [ "$keys" -gt 0 ] || fail "$app: no cache entry reached Redis"
    echo "ok: $keys keys under $app:* in Redis"
  fi
  kill "$server"
  wait "$server" 2>/dev/null || true
  if [ -n "$redis_port" ]; then
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  fi
  echo "stopped $app"
}

check_app nest11-cjs dist/main.js / /greetings/ci '{"name":"ci","text":"Hello ci!","run":1}' test test:e2e
check_app nest12-esm dist/main.js /catalogue /products/5 '{"id":5,"title":"Product #5","lookup":1}' test:e2e

section "all consumer checks passed in ${SECONDS}s"
