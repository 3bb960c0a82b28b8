#!/bin/sh
# The image's entry point to Tweed.
exec java --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
  -XX:+UseSerialGC -jar /opt/tweed/lib/tweed.jar "$@"
