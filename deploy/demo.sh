#!/usr/bin/env bash
# Branchdesk demo: a company on this machine. Creates a CA and certificates, three branches that take
# complaints while headquarters is down, then HQ; the branches sync, HQ's edits flow back, a live
# branch pushes its edits by itself, a concurrent edit shows up as a conflict, and HQ shows its
# replication status and the month's complaint statistics. Then HQ's and Pudong's web consoles stay up
# until Enter is pressed (with no terminal, or with --no-wait, the demo ends at once).
# Everything happens in a temporary folder on 127.0.0.1; every process it starts is stopped at the end
# (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
wait_at_end=true
for argument in "$@"; do
    case "$argument" in
        --no-wait) wait_at_end=false ;;
        *) echo "usage: bash deploy/demo.sh [--no-wait]" >&2; exit 64 ;;
    esac
done

swift build --product branchdesk >/dev/null
bin="$(swift build --show-bin-path)/branchdesk"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export BRANCHDESK_USER="王芳"
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s# %s%s\n' "$bold" "$*" "$plain"; }
step() { printf '%s$ branchdesk %s%s\n' "$bold" "$*" "$plain"; "$bin" "$@"; }
# A free port on 127.0.0.1 for HQ.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port) hq_web=$(free_port) pudong_web=$(free_port)
hq="$work/hq" pudong="$work/sh-pudong-012" chaoyang="$work/bj-chaoyang-003" tianhe="$work/gz-tianhe-007" certs="$work/certs"

say "The admin creates the company CA and a certificate per node (no OpenSSL needed)"
step certs create-ca --certs "$certs"
step certs create-node --certs "$certs" --node-id hq --role hq
step certs create-node --certs "$certs" --node-id sh-pudong-012 --role branch
step certs create-node --certs "$certs" --node-id bj-chaoyang-003 --role branch
step certs create-node --certs "$certs" --node-id gz-tianhe-007 --role branch
step init --data "$hq" --node-id hq --role hq --certs "$certs" --time-zone Asia/Shanghai
step init --data "$pudong" --node-id sh-pudong-012 --role branch --code SH012 --certs "$certs" --hq "127.0.0.1:$port" --time-zone Asia/Shanghai
step init --data "$chaoyang" --node-id bj-chaoyang-003 --role branch --code BJ003 --certs "$certs" --hq "127.0.0.1:$port" --time-zone Asia/Shanghai
step init --data "$tianhe" --node-id gz-tianhe-007 --role branch --code GZ007 --certs "$certs" --hq "127.0.0.1:$port" --time-zone Asia/Shanghai
for branch in sh-pudong-012 bj-chaoyang-003 gz-tianhe-007; do "$bin" peers add --data "$hq" "$branch" >/dev/null; done
say "Accounts for the web consoles, local to each node (the password is read from the terminal or stdin)"
printf '%s\n' 'demo-总部-2026' | step users add --data "$hq" 总部 --role hq-officer
printf '%s\n' 'demo-王芳-2026' | step users add --data "$pudong" 王芳 --role clerk
printf '%s\n' 'demo-店长-2026' | step users add --data "$pudong" 店长 --role supervisor
step status --data "$hq"

say "Headquarters is down. The branches keep taking complaints by phone."
number=$("$bin" ticket open --data "$pudong" --customer 张三 --phone "138 0013 8000" --channel phone --category product \
    --severity 2 --kind claim --title "手机频繁死机" --body "买了三天就频繁死机，要求换货" --request "换新机" --department 售后部)
printf '%s$ branchdesk ticket open --data sh-pudong-012 --customer 张三 … --title 手机频繁死机%s\n%s\n' "$bold" "$plain" "$number"
step ticket transition --data "$pudong" "$number" close || echo "(refused, exit $?: a complaint is closed only after the reply)"
step ticket transition --data "$pudong" "$number" accept
step ticket investigate --data "$pudong" "$number" --cause "批次固件缺陷" --conclusion "投诉属实" --countermeasure "更换新机"
other=$("$bin" ticket open --data "$chaoyang" --customer 李四 --phone "010-6234 5678" --channel walk-in --category price \
    --severity 1 --title "标价与结账价格不一致" --body "货架标价 39 元，结账收 45 元")
printf '%s$ branchdesk ticket open --data bj-chaoyang-003 --customer 李四 … --title 标价与结账价格不一致%s\n%s\n' "$bold" "$plain" "$other"
repeat=$("$bin" ticket open --data "$tianhe" --customer 张三 --phone "138 0013 8000" --channel wechat --category service \
    --severity 1 --title "换货后客服未回电" --body "上周在浦东店投诉后，客服答应回电但一直没有")
printf '%s$ branchdesk ticket open --data gz-tianhe-007 --customer 张三 … --title 换货后客服未回电%s\n%s\n' "$bold" "$plain" "$repeat"
step ticket list --data "$tianhe" --due-within 4d
step sync --data "$pudong" --once || echo "(exit $?: HQ is unreachable; the branch keeps working and syncs later)"

say "Headquarters starts; each branch runs one catch-up round"
"$bin" serve --data "$hq" --listen "127.0.0.1:$port" --web "127.0.0.1:$hq_web" >"$work/hq.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/hq.log" && break; sleep 0.1; done
step sync --data "$pudong" --once
step sync --data "$chaoyang" --once
step sync --data "$tianhe" --once
step ticket list --data "$hq"

say "HQ escalates the Pudong claim and the Beijing branch changes a severity while both are offline to each other"
step ticket escalate --data "$hq" "$number" --to hq --by 总部投诉办
step ticket update --data "$hq" "$other" --severity 2 --by 总部投诉办
step ticket update --data "$chaoyang" "$other" --severity 3 --by 门店经理

say "Pudong now keeps a live session: HQ's escalation arrives, and its new edits reach HQ with no command run"
"$bin" serve --data "$pudong" --web "127.0.0.1:$pudong_web" >"$work/pudong.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do "$bin" ticket show --data "$pudong" "$number" --json | grep -q '"escalation" : "hq"' && break; sleep 0.1; done
step ticket transition --data "$pudong" "$number" submit
step ticket transition --data "$pudong" "$number" approve --reason "同意换新" --by 店长
step ticket reply --data "$pudong" "$number" --message "为您免费更换新机，3 日内到店领取" --via phone --promised-date 2026-11-30
for _ in $(seq 100); do "$bin" ticket show --data "$hq" "$number" --json | grep -q '"stage" : "replied"' && break; sleep 0.1; done
step ticket show --data "$hq" "$number"

say "Beijing syncs: the concurrent severity edits become a visible conflict, the same on both sides"
step sync --data "$chaoyang" --once
step conflicts --data "$hq"
step conflicts resolve --data "$hq" "$other" severity --value 3 --by 总部投诉办
step sync --data "$chaoyang" --once
digest() { "$bin" digest --data "$1" --branch "$2" | cut -d' ' -f1; }
for _ in $(seq 100); do
    [ "$(digest "$pudong" sh-pudong-012)" = "$(digest "$hq" sh-pudong-012)" ] && break
    sleep 0.1
done

step sync --data "$tianhe" --once

say "HQ's replication status and the month's statistics"
step status --data "$hq"
step report --data "$hq" --month "$(TZ=Asia/Shanghai date +%Y-%m)"

say "Each branch holds its own tickets exactly as HQ does, and no other branch's"
for branch in "$pudong:sh-pudong-012" "$chaoyang:bj-chaoyang-003" "$tianhe:gz-tianhe-007"; do
    step digest --data "$hq" --branch "${branch#*:}"
    step digest --data "${branch%%:*}" --branch "${branch#*:}"
    [ "$(digest "$hq" "${branch#*:}")" = "$(digest "${branch%%:*}" "${branch#*:}")" ] || { echo "${branch#*:} differs from HQ" >&2; exit 1; }
done
step ticket list --data "$tianhe"

say "The web consoles, served by the nodes themselves"
echo "  HQ:     http://127.0.0.1:$hq_web/      log in as 总部 / demo-总部-2026 (dashboard, report, replication)"
echo "  Pudong: http://127.0.0.1:$pudong_web/      log in as 王芳 / demo-王芳-2026, or 店长 / demo-店长-2026 to approve"
for address in "127.0.0.1:$hq_web" "127.0.0.1:$pudong_web"; do
    for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('${address%:*}', ${address#*:}), 1)" 2>/dev/null && break; sleep 0.1; done
    python3 - "$address" <<'PY' || { echo "the console at $address does not answer" >&2; exit 1; }
import sys, urllib.request
with urllib.request.urlopen(f"http://{sys.argv[1]}/login", timeout=5) as response:
    assert response.status == 200 and "登录" in response.read().decode()
PY
done
if $wait_at_end && [ -t 0 ] && [ -t 1 ]; then
    read -r -p "Press Enter to stop the nodes and remove the demo's files. "
fi
