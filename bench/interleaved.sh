#!/usr/bin/env bash
# interleaved.sh: our server beside the C epoll and Netty epoll peers of ../shared/bench,
# measured in alternating short runs against warm servers, so that drift on a noisy
# machine hits all three alike. Needs ../shared/bench/setup.sh to have been run.
#
#   bench/interleaved.sh [ROUNDS]          (default 7 rounds of 2 s per server and scenario)
#
# Servers on CPU 0, the C load generator on CPU 1, loopback only, every run bounded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SHARED=../shared/bench
LG=$SHARED/loadgen/loadgen
ROUNDS=${1:-7}
for f in "$LG" "$SHARED/peers/c/echo_epoll" "$SHARED/peers/netty/target/netty-echo-epoll/netty-echo-epoll.jar"; do
  [[ -e $f ]] || { echo "interleaved.sh: $f is missing: run $SHARED/setup.sh" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"
classes=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$classes"' EXIT
javac -d "$classes" EchoServer.java

ports=(19601 19602 19603)
taskset -c 0 "$SHARED/peers/c/echo_epoll" 19601 >/dev/null 2>&1 &
taskset -c 0 java -cp "$classes" EchoServer --port 19602 --quiet >/dev/null 2>&1 &
taskset -c 0 java -jar "$SHARED/peers/netty/target/netty-echo-epoll/netty-echo-epoll.jar" 19603 epoll >/dev/null 2>&1 &
for port in "${ports[@]}"; do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done

run() { # port scenario-args... -> req/s for pingpong, MB/s for stream
  local port=$1 figure=rps; shift
  [[ $* == *stream* ]] && figure=mb_s
  timeout 30 taskset -c 1 "$LG" -q -p "$port" "$@" | grep -oE " $figure=[0-9.]+" | cut -d= -f2
}
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "| scenario (median req/s or MB/s) | c-epoll | ours | netty-epoll | ours / c-epoll (median of rounds) | ours / netty-epoll (median of rounds) |"
echo "|---|--:|--:|--:|--:|--:|"
for scenario in "pp1:-m pingpong -c 1 -s 64" "pp100:-m pingpong -c 100 -s 64" \
                "stream32:-m stream -c 10 -P 32 -s 64" "stream1024:-m stream -c 10 -P 1024 -s 64"; do
  name=${scenario%%:*}; read -r -a args <<< "${scenario#*:}"
  for port in "${ports[@]}"; do run "$port" "${args[@]}" -w 2 -d 1 > /dev/null; done # warm-up (JIT)
  # Ratios are taken within each round (runs seconds apart), then the median over rounds:
  # drift on a shared machine moves neighbouring runs together.
  declare -A all=()
  vs_c="" vs_netty=""
  for _ in $(seq "$ROUNDS"); do
    r=()
    for i in 0 1 2; do r[i]=$(run "${ports[$i]}" "${args[@]}" -w 0.3 -d 2); all[$i]+="${r[i]} "; done
    vs_c+="$(awk -v a="${r[1]}" -v b="${r[0]}" 'BEGIN {printf "%.3f", a / b}') "
    vs_netty+="$(awk -v a="${r[1]}" -v b="${r[2]}" 'BEGIN {printf "%.3f", a / b}') "
  done
  m=(); for i in 0 1 2; do m[i]=$(tr ' ' '\n' <<< "${all[$i]}" | grep . | median); done
  echo "| $name | ${m[0]} | ${m[1]} | ${m[2]} | $(tr ' ' '\n' <<< "$vs_c" | grep . | median) | $(tr ' ' '\n' <<< "$vs_netty" | grep . | median) |"
  echo "runs $name: c-epoll ${all[0]}| ours ${all[1]}| netty-epoll ${all[2]}| ours/c-epoll $vs_c| ours/netty-epoll $vs_netty" >&2
  unset all
done
