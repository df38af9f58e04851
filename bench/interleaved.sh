#!/usr/bin/env bash
# interleaved.sh: line-echo servers side by side, measured in alternating short runs
# against warm servers, so that drift on a noisy machine hits them all alike.
#
#   bench/interleaved.sh --loadgen PATH [--rounds N] NAME='COMMAND' [NAME='COMMAND' ...]
#
# Each COMMAND starts one server and contains {port}, which is replaced by a free port,
# for example:
#
#   bench/interleaved.sh --loadgen /tmp/loadgen \
#     c-epoll='/tmp/echo_epoll {port}' \
#     ours='java -cp /tmp/classes EchoServer --port {port} --quiet'
#
# The first server is the baseline: each other server's ratio to it is taken within each
# round, then the median over the rounds is shown. PATH is a load generator with the
# command line of bench/peers/loadgen.c (-m pingpong|stream, -p PORT, -c CONNS,
# -P PIPELINE, -s SIZE, -w WARMUP, -d SECONDS, -q; a last line with rps= and mb_s=).
# ./run.sh compare builds the peers and the load generator and runs this. Servers run on CPU 0, the load generator on CPU 1 (taskset), loopback only,
# every run bounded in time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '4,5p' "$0" | sed 's/^# *//' >&2; exit 2; }
loadgen="" rounds=7 names=() commands=()
while (($#)); do
  case $1 in
    --loadgen) loadgen=${2:-}; shift 2 || usage ;;
    --rounds) rounds=${2:-}; shift 2 || usage ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *=*) names+=("${1%%=*}"); commands+=("${1#*=}"); shift ;;
    *) echo "interleaved.sh: unexpected argument '$1'" >&2; usage ;;
  esac
done
[[ -x $loadgen ]] || { echo "interleaved.sh: --loadgen PATH must name the load generator (see bench/RESULTS.md)" >&2; exit 2; }
((${#names[@]} >= 2)) || { echo "interleaved.sh: name at least two servers, the baseline first" >&2; usage; }
[[ $rounds =~ ^[0-9]+$ ]] && ((rounds > 0)) || { echo "interleaved.sh: --rounds takes a whole number" >&2; exit 2; }
for c in "${commands[@]}"; do
  [[ $c == *"{port}"* ]] || { echo "interleaved.sh: the command '$c' has no {port}" >&2; exit 2; }
done

ulimit -n "$(ulimit -Hn)"
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
ports=()
for i in "${!commands[@]}"; do
  port=$((19601 + i))
  ports+=("$port")
  taskset -c 0 bash -c "exec ${commands[$i]//\{port\}/$port}" >/dev/null 2>&1 &
done
for port in "${ports[@]}"; do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done

run() { # port scenario-args... -> req/s for pingpong, MB/s for stream
  local port=$1 figure=rps; shift
  [[ $* == *stream* ]] && figure=mb_s
  timeout 30 taskset -c 1 "$loadgen" -q -p "$port" "$@" | grep -oE " $figure=[0-9.]+" | cut -d= -f2
}
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

header="| scenario (median req/s or MB/s) |" rule="|---|"
for name in "${names[@]}"; do header+=" $name |"; rule+="--:|"; done
for name in "${names[@]:1}"; do header+=" $name / ${names[0]} |"; rule+="--:|"; done
echo "$header"
echo "$rule"
for scenario in "pp1:-m pingpong -c 1 -s 64" "pp100:-m pingpong -c 100 -s 64" \
                "stream32:-m stream -c 10 -P 32 -s 64" "stream1024:-m stream -c 10 -P 1024 -s 64"; do
  name=${scenario%%:*}; read -r -a args <<< "${scenario#*:}"
  for port in "${ports[@]}"; do run "$port" "${args[@]}" -w 2 -d 1 > /dev/null; done # warm-up (JIT)
  declare -A all=() ratios=()
  for _ in $(seq "$rounds"); do
    r=()
    for i in "${!ports[@]}"; do r[i]=$(run "${ports[$i]}" "${args[@]}" -w 0.3 -d 2); all[$i]+="${r[i]} "; done
    for ((i = 1; i < ${#ports[@]}; i++)); do
      ratios[$i]+="$(awk -v a="${r[i]}" -v b="${r[0]}" 'BEGIN {printf "%.3f", a / b}') "
    done
  done
  row="| $name |"
  for i in "${!ports[@]}"; do row+=" $(tr ' ' '\n' <<< "${all[$i]}" | grep . | median) |"; done
  for ((i = 1; i < ${#ports[@]}; i++)); do row+=" $(tr ' ' '\n' <<< "${ratios[$i]}" | grep . | median) |"; done
  echo "$row"
  for i in "${!ports[@]}"; do echo "runs $name ${names[$i]}: ${all[$i]}${ratios[$i]:+| ratios ${ratios[$i]}}" >&2; done
  unset all ratios
done
