#!/bin/sh
# The init container: installs the CNI plugin and its network configuration on the host.
# Both are written to a temporary name and renamed, so a runtime never reads half a file.
set -eu
bin=/host/opt/cni/bin
conf=/host/etc/cni/net.d
cp /opt/tweed/bin/tweed-cni "$bin/.tweed-cni.tmp"
chmod 0755 "$bin/.tweed-cni.tmp"
mv -f "$bin/.tweed-cni.tmp" "$bin/tweed-cni"
printf '%s\n' "$CNI_NETWORK_CONFIG" > "$conf/.${CNI_CONF_NAME}.tmp"
mv -f "$conf/.${CNI_CONF_NAME}.tmp" "$conf/$CNI_CONF_NAME"
echo "installed $bin/tweed-cni and $conf/$CNI_CONF_NAME"
