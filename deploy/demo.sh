#!/usr/bin/env bash
# Branchdesk demo: a branch node with no link to anyone takes a complaint by phone and handles it
# through the whole process. Builds the binary, works in a temporary folder, removes it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --product branchdesk >/dev/null
bin="$(swift build --show-bin-path)/branchdesk"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT INT TERM

export BRANCHDESK_DATA="$work/sh-pudong-012"
export BRANCHDESK_USER="王芳"
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ branchdesk %s%s\n' "$bold" "$*" "$plain"; "$bin" "$@"; }

step init --node-id sh-pudong-012 --role branch --code SH012 --time-zone Asia/Shanghai
number=$("$bin" ticket open --customer 张三 --phone "138 0013 8000" --channel phone --category product \
    --severity 2 --kind claim --title "手机频繁死机" --body "买了三天就频繁死机，要求换货" --request "换新机" \
    --department 售后部)
printf '\n%s$ branchdesk ticket open --customer 张三 … --title 手机频繁死机%s\n%s\n' "$bold" "$plain" "$number"
"$bin" ticket open --customer 李四 --phone "021-6234 5678" --channel walk-in --category price --severity 1 \
    --title "标价与结账价格不一致" --body "货架标价 39 元，结账收 45 元" >/dev/null

step ticket list
step ticket transition "$number" close || echo "(refused, exit $?: a complaint is closed only after the reply)"
step ticket transition "$number" accept
step ticket assign "$number" --to 李主管 --department 售后部
step ticket investigate "$number" --cause "批次固件缺陷" --conclusion "投诉属实" --countermeasure "更换新机" --prevention "升级固件并抽检"
step ticket transition "$number" submit
step ticket transition "$number" approve --reason "同意换新" --by 店长
step ticket reply "$number" --message "为您免费更换新机，3 日内到店领取" --via phone --promised-date 2026-11-30
step ticket follow-up "$number" --score 5 --remark "很满意" --close
step ticket search 死机
step ticket show "$number"
step status
step digest
