#!/bin/sh
# The image's entry point to Tweed, with the agents' JVM settings (LabProcesses.AGENT_JVM, measured
# by `tweed bench agent`: the serial collector, a 512 MiB ceiling, C1 only).
exec java --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
  -XX:+UseSerialGC -Xmx512m -XX:TieredStopAtLevel=1 -jar /opt/tweed/lib/tweed.jar "$@"
