#!/usr/bin/env bash
# A/B: runs one benchmark command on two revisions of this repository, alternating A, B, A, B...
# so that both see the same drift of a shared machine (on 2 cores, figures swing by 20-40% within
# minutes: one run of each, minutes apart, compares the machine's moods, not the code).
#
#   bench/ab.sh [-n ROUNDS] [-g REGEX] REV_A REV_B -- COMMAND...
#
# REV_A and REV_B are git revisions (a commit, a branch, HEAD~1), or `.` for the working tree,
# uncommitted changes and untracked files (not ignored ones) included, as it is when ab.sh starts.
# Each is checked out into a temporary git worktree (`.` as HEAD with those changes copied in)
# that shares this checkout's node_modules (and .venv, for the Ray and HF baselines), removed at
# the end: the benchmarks compile the sources in every process they start, so an edit made
# while the A/B runs must not reach its later runs. COMMAND runs in each checkout's root through bash (e.g.
# `LAT_TASKS=0 SSE_CLIENTS=0 RAY=0 REPEATS=2 npm run bench:dispatch`). Of its output, the lines
# matching REGEX (grep -E; default: lines with tasks/s, p99, median or x HF) are printed under
# a header with the revision, the round, the time and the load average.
# ROUNDS (default 3) pairs are run. Nothing else may run on the machine meanwhile.
set -euo pipefail
rounds=3
pattern='tasks/s|p99|median|x HF'
while getopts 'n:g:' o; do
  case $o in
    n) rounds=$OPTARG ;;
    g) pattern=$OPTARG ;;
    *) echo "usage: bench/ab.sh [-n ROUNDS] [-g REGEX] REV_A REV_B -- COMMAND..." >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -lt 4 ] || [ "$3" != "--" ]; then
  echo "usage: bench/ab.sh [-n ROUNDS] [-g REGEX] REV_A REV_B -- COMMAND...   (a revision may be . for the working tree)" >&2
  exit 2
fi
root=$(git rev-parse --show-toplevel)
a=$1 b=$2
shift 3
cmd="$*"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/limolab-ab-XXXXXX")
trees=()
cleanup() {
  for t in "${trees[@]+"${trees[@]}"}"; do git -C "$root" worktree remove --force "$t" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

checkout() {   # sets $dir to the directory to run revision $1 in
  local sha rev=$1
  if [ "$rev" = . ]; then rev=HEAD; fi
  sha=$(git -C "$root" rev-parse --verify --quiet "$rev^{commit}") || { echo "bench/ab.sh: $1 is not a revision of this repository" >&2; exit 2; }
  dir="$tmp/$(printf %s "$1" | tr -c 'A-Za-z0-9_-' '_')-${#trees[@]}"
  git -C "$root" worktree add --detach "$dir" "$sha" >/dev/null 2>&1 || { echo "bench/ab.sh: could not check out $1 into $dir" >&2; exit 2; }
  trees+=("$dir")
  if [ "$1" = . ]; then   # the working tree as it is now: tracked changes, then untracked files
    git -C "$root" diff --binary HEAD > "$tmp/working.patch"
    if [ -s "$tmp/working.patch" ]; then git -C "$dir" apply --whitespace=nowarn "$tmp/working.patch" || { echo "bench/ab.sh: could not copy the working tree's changes into $dir" >&2; exit 2; }; fi
    (cd "$root" && git ls-files --others --exclude-standard -z | tar --null -T - -cf -) | tar -C "$dir" -xf -
  fi
  ln -s "$root/node_modules" "$dir/node_modules"
  if [ -e "$root/.venv" ]; then ln -s "$root/.venv" "$dir/.venv"; fi
}
describe() {   # revision $1 checked out in $2
  local d
  d="$1 ($(git -C "$2" rev-parse --short HEAD)"
  if [ "$1" = . ] && { ! git -C "$root" diff --quiet HEAD || [ -n "$(git -C "$root" ls-files --others --exclude-standard)" ]; }; then d="$d, with uncommitted changes"; fi
  echo "$d)"
}
checkout "$a"; dir_a=$dir
checkout "$b"; dir_b=$dir
echo "A = $(describe "$a" "$dir_a"), B = $(describe "$b" "$dir_b"); $rounds round(s) of: $cmd"
for r in $(seq "$rounds"); do
  for side in A B; do
    if [ $side = A ]; then rev=$a dir=$dir_a; else rev=$b dir=$dir_b; fi
    echo "[$side $rev] round $r, $(date +%T), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
    out=$(cd "$dir" && bash -c "$cmd" 2>&1) || echo "  (exited with status $?)"
    if grep -qE -- "$pattern" <<<"$out"; then
      grep -E -- "$pattern" <<<"$out" | sed 's/^/  /'
    else
      echo "  (no line matched $pattern; its last lines:)"
      tail -5 <<<"$out" | sed 's/^/  | /'
    fi
  done
done
