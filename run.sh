#!/usr/bin/env bash
# run.sh: the one entry point for people and CI.
#
#   ./run.sh [SERVER OPTIONS]   run the echo server (java EchoServer.java)
#   ./run.sh client [ARGS]      run the console client (java EchoClient.java)
#   ./run.sh test [CLASS ...]   the behaviour tests (JUnit 5 through Maven): all, or the classes named
#                               (LineEchoTest, ClientTest#clientPipe, Chat*); --fast leaves out the attacks
#   ./run.sh check [--fix]      the lesson's checks against its docs; --fix rewrites PATTERNS.md's line links
#   ./run.sh mutants [N ...]    make each bug of test/mutants.md in a copy and see its test fail
#   ./run.sh bench [OPTIONS]    run the benchmark (./run.sh bench --help)
#   ./run.sh compare [--rounds N]  README's speed table: beside a C epoll server and Netty (needs cc; mvn for Netty)
#   ./run.sh exercise N [ARGS]  run exercise N's solution (exercises/NN-*.patch) from a temporary copy
#
# The programs need only a JDK, 17 or newer: `java` on PATH, or the one named by $JAVA. The tests need Maven.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

JAVA=${JAVA:-java}
if ! command -v "$JAVA" >/dev/null 2>&1; then
  echo "run.sh: no 'java' found; install a JDK 17 or newer (for example: apt-get install openjdk-17-jdk-headless)" >&2
  exit 1
fi
# "17.0.15", "25", "1.8.0_402": the feature number is the first field, or the second after "1."
version=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')
feature=${version#1.}
feature=${feature%%.*}
if ! [[ $feature =~ ^[0-9]+$ ]] || ((feature < 17)); then
  echo "run.sh: $JAVA is Java ${version:-of unknown version}; this needs Java 17 or newer" >&2
  exit 1
fi

# JDK 17 decodes command-line arguments with the locale's charset: without a UTF-8
# locale, `./run.sh client "wörld"` would send mangled text. Use C.UTF-8 when none is set.
if [[ -z ${LC_ALL:-}${LC_CTYPE:-}${LANG:-} ]]; then
  export LC_ALL=C.UTF-8
fi

case ${1:-} in
  client) shift; exec "$JAVA" EchoClient.java "$@" ;;
  test|check)
          what=$1
          shift
          if ! command -v mvn >/dev/null 2>&1; then
            echo "run.sh: the tests need Maven (for example: apt-get install maven)" >&2
            exit 1
          fi
          # Maven and the tests' JVMs run on the JDK of $JAVA
          JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v "$JAVA")")")")
          export JAVA_HOME
          args=(-B --no-transfer-progress)
          [[ $what == check ]] && args+=(-Pcheck)
          tests=()
          for arg in "$@"; do
            case $arg in
              --fast) args+=(-Dtest.excludedGroups=check,attack,load) ;;
              --fix)  [[ $what == check ]] || { echo "run.sh: --fix is for ./run.sh check" >&2; exit 2; }
                      # compiled first, then run with the tests' classpath (JUnit's jars), as Maven gives it
                      mvn -q "${args[@]}" test-compile dependency:build-classpath -Dmdep.outputFile=target/classpath
                      exec "$JAVA" -cp "target/test-classes:target/classes:$(cat target/classpath)" LessonCheck --fix ;;
              -*)     echo "run.sh: unknown option '$arg'; usage: ./run.sh test [--fast] [CLASS[#METHOD] ...]" >&2; exit 2 ;;
              *)      tests+=("$arg") ;;
            esac
          done
          if ((${#tests[@]})); then
            args+=("-Dtest=$(IFS=,; echo "${tests[*]}")")
          fi
          exec mvn "${args[@]}" test ;;
  mutants) shift; exec "$JAVA" test/Mutants.java "$@" ;;
  bench)  shift
          # hold opens 10 000 connections: raise the descriptor limit as far as allowed
          # (the benchmark prints the limit it got, and holds fewer if it must)
          ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
          exec "$JAVA" bench/EchoBench.java "$@" ;;
  compare) shift; exec bench/compare.sh "$@" ;;
  exercise) shift
          n=${1:-}
          patch=""
          [[ $n =~ ^[0-9]{1,2}$ ]] && patch=$(ls exercises/"$(printf '%02d' "$((10#$n))")"-*.patch 2>/dev/null | head -1)
          if [[ -z $patch ]]; then
            echo "run.sh: exercise N [SERVER ARGS]: N is one of $(ls exercises/*.patch | sed 's|.*/0*\([0-9]*\)-.*|\1|' | tr '\n' ' ')" >&2
            exit 2
          fi
          shift
          dir=$(mktemp -d)
          cp EchoServer.java "$dir/"
          (cd "$dir" && git apply "$OLDPWD/$patch") || { echo "run.sh: $patch does not apply" >&2; exit 1; }
          echo "run.sh: $patch, applied to a copy in $dir (files it writes go there)" >&2
          cd "$dir" && exec "$JAVA" EchoServer.java "$@" ;;
  *)      exec "$JAVA" EchoServer.java "$@" ;;
esac
