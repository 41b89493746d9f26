# Sourced by the tests that run the outside tools of tests/tools: puts them
# on PATH and keeps them offline (no telemetry, no update checks: the
# machines reach no host but the package registries).
OSS_TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH=$OSS_TOOLS_DIR/node_modules/.bin:$PATH
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export ASYNCAPI_METRICS_CONFIG_PATH=${TMPDIR:-/tmp}/oss-asyncapi-analytics.json
[ -s "$ASYNCAPI_METRICS_CONFIG_PATH" ] ||
    echo '{"analyticsEnabled":"false","infoMessageShown":"true"}' >"$ASYNCAPI_METRICS_CONFIG_PATH"
export NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false
