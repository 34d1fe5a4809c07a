#!/usr/bin/env bash
# Log analysis at scale: `wb analyse logs` over a synthetic 52-host cluster against `jq` pulling
# out just the block events and `wc -l` reading the same files, in one run.
#
#   scripts/bench-analyse.sh                 # 5G of logs (generated once, then reused)
#   WB_BENCH_SIZE=200M scripts/bench-analyse.sh
#
# Environment: WB_BENCH_SIZE (default 5G), WB_BENCH_HOSTS (52), WB_BENCH_DIR (where the logs go,
# default /tmp/wb-bench-analyse-<size>), WB_BENCH_SEED (1).
set -euo pipefail

size=${WB_BENCH_SIZE:-5G}
hosts=${WB_BENCH_HOSTS:-52}
seed=${WB_BENCH_SEED:-1}
dir=${WB_BENCH_DIR:-/tmp/wb-bench-analyse-$size}
root=$(cd "$(dirname "$0")/.." && pwd)
wb=${CARGO_TARGET_DIR:-$root/target}/release/wb

for tool in jq /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool (Debian: apt-get install jq time)" >&2; exit 1; }
done

(cd "$root" && cargo build --release -p wb)

# The logs: generated once per size, hosts and seed; reused when the truth file says they are whole.
stamp="$dir/.generated-$hosts-$seed"
if [[ ! -f $stamp ]]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  /usr/bin/time -f "generated in %e s" "$wb" analyse synth --hosts "$hosts" --size "$size" --seed "$seed" --out "$dir/logs"
  touch "$stamp"
fi
mapfile -t files < <(find "$dir/logs" -name '*.json' | sort)
bytes=$(cat "${files[@]}" | wc -c)
echo "logs: ${#files[@]} files of $hosts hosts, $bytes bytes, in $dir/logs"

# Wall seconds and peak RSS (KiB) of a command; its output goes to $dir/out.
measure() {
  /usr/bin/time -f "%e %M" -o "$dir/time" "$@" >"$dir/out" 2>&1
  cat "$dir/time"
}

# Every tool once first, so that all of them read the files from the page cache.
echo "warming the page cache (each tool once)…"
measure cat "${files[@]}" >/dev/null
measure "$wb" analyse logs --out "$dir/analysis" "${files[@]}" >/dev/null

# Three timed runs, each into a fresh output directory after the previous outputs are flushed
# (else the kernel writes the last run's 300 MB back to disk during the next one) and the logs
# read once more (a shared machine's kernel may have dropped some from the page cache); the
# median is reported.
runs=()
for _ in 1 2 3; do
  rm -rf "$dir/analysis"
  sync
  cat "${files[@]}" >/dev/null
  runs+=("$(measure "$wb" analyse logs --out "$dir/analysis" "${files[@]}")")
done
read -r t_wb rss_wb < <(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
echo "wb analyse logs runs (s, KiB): $(printf '%s; ' "${runs[@]}")"
tail -n 2 "$dir/out"
read -r t_wc _ < <(measure wc -l "${files[@]}")
filter='select(.ns | test("ForgedBlock|DownloadedHeader|CompletedBlockFetch|AddedToCurrentChain"))'
read -r t_jq _ < <(measure jq -c "$filter" "${files[@]}")
jq_lines=$(wc -l <"$dir/out")

echo
echo "files cached; $(nproc) cores; $(date -u +%F) at $(git -C "$root" rev-parse --short HEAD)"
awk -v b="$bytes" -v wb="$t_wb" -v rss="$rss_wb" -v wc="$t_wc" -v jq="$t_jq" -v jl="$jq_lines" 'BEGIN {
  printf "%-44s %8.2f s  %7.2f GB/s  peak RSS %d MiB\n", "wb analyse logs", wb, b / wb / 1e9, rss / 1024
  printf "%-44s %8.2f s  %7.2f GB/s\n", "wc -l", wc, b / wc / 1e9
  printf "%-44s %8.2f s  %7.3f GB/s  (%d block events)\n", "jq -c select(.ns | test(block events))", jq, b / jq / 1e9, jl
  printf "wb vs jq: %.1fx faster; wb vs wc -l: %.2fx the time\n", jq / wb, wb / wc
}'
