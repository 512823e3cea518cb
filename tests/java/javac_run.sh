#!/bin/bash
# java.javac_multi: compile the program under app/src (four types in packages
# app and app.geom) with javac, show what javac wrote (names and SHA-256 of the
# class files, which do not depend on the machine), then run it with java.
# Under elfuse both javac and java run as the guest's children of this shell.
# usage: javac_run.sh JAVA_HOME
set -euo pipefail
jdk=$1
src=$(dirname "$0")/app/src
"$jdk/bin/javac" -d classes $(find "$src" -name '*.java' | sort)
(cd classes && find . -type f | sort | xargs sha256sum)
"$jdk/bin/java" -cp classes app.Main one two three
echo "java exit $?"
