#!/usr/bin/env bash
# compare.sh: the speed table of README, rebuilt and rerun on this machine in one command.
#
#   ./run.sh compare [--rounds N]     (or bench/compare.sh)
#
# Builds what it can, in a temporary directory (the work tree is left alone):
#   - our server, compiled once with javac;
#   - the C epoll echo server and the C load generator (bench/peers/*.c), with cc;
#   - the Netty echo server (bench/netty, Netty 4.1 with native epoll, versions pinned), with mvn.
# Says what it skipped and why, then runs bench/interleaved.sh over N rounds (default 9):
# every server warm, in alternating short runs, servers on CPU 0 and the load on CPU 1,
# loopback only, each run bounded in time. The C load generator checks every byte.
# Without cc there is no load generator, so nothing to compare: it says so and exits 1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rounds=9
while (($#)); do
  case $1 in
    --rounds) rounds=${2:-}; shift 2 || { echo "compare.sh: --rounds needs a number" >&2; exit 2; } ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unexpected argument '$1' (usage: compare.sh [--rounds N])" >&2; exit 2 ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --rounds takes a whole number above 0" >&2; exit 2; }

JAVA=${JAVA:-java}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

javac -d "$work/ours" EchoServer.java
servers=()
skipped=()
if command -v cc >/dev/null 2>&1; then
  cc -O2 -o "$work/echo_epoll" bench/peers/echo_epoll.c
  cc -O2 -o "$work/loadgen" bench/peers/loadgen.c
  servers+=("c-epoll=$work/echo_epoll {port}")
else
  echo "compare.sh: no C compiler (cc): neither the C server nor the load generator can be built;" \
       "install one (for example: apt-get install gcc) and run again" >&2
  exit 1
fi
servers+=("ours=$JAVA -cp $work/ours EchoServer --port {port} --quiet")
if [[ $(uname -s)/$(uname -m) != Linux/x86_64 ]]; then
  skipped+=("netty: its native epoll transport is built for Linux on x86-64 only")
elif ! command -v mvn >/dev/null 2>&1; then
  skipped+=("netty: no Maven (mvn) to build it")
else
  cp -r bench/netty "$work/netty"
  if (cd "$work/netty" && mvn -q -B package -DskipTests > "$work/netty-build.log" 2>&1); then
    servers+=("netty-epoll=$JAVA -jar $work/netty/target/netty-echo.jar {port}")
  else
    skipped+=("netty: the Maven build failed (offline, or Netty not in reach): $(tail -1 "$work/netty-build.log")")
  fi
fi
for reason in "${skipped[@]}"; do echo "compare.sh: skipped $reason" >&2; done
echo "compare.sh: $rounds rounds of 4 scenarios, about $((rounds * ${#servers[@]} * 10 / 60 + 1)) minutes" >&2
bench/interleaved.sh --loadgen "$work/loadgen" --rounds "$rounds" "${servers[@]}"
