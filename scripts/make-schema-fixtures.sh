#!/usr/bin/env bash
# Makes the fixture databases of every released schema (Tests/TicketStoreTests/Fixtures/schema-*)
# with the released code itself: each schema's last landed commit is checked out into a worktree,
# built, and run through the same scenario — a branch taking complaints in Chinese through the
# process, and from v2 on HQ syncing with it and a concurrent edit becoming a conflict. Beside each
# database it keeps what that build said of it (`ticket list --json`, `conflicts --json`, `digest`),
# which the migration tests compare with what today's code shows after migrating.
#
# Run once per released schema; the outputs are committed. Takes a few minutes per version (the
# worktree keeps its build folder, so later versions build incrementally):
#   bash scripts/make-schema-fixtures.sh [NAME ...]     # default: every schema below
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
out="$repo/Tests/TicketStoreTests/Fixtures"
work="${BRANCHDESK_FIXTURE_WORKTREE:-/tmp/branchdesk-fixture-src}"

# name → the last commit that shipped that schema (the parent of the commit adding the next one).
declare -A released=(
    [schema-v1]=96acb13
    [schema-v2-sync]=c777866
    [schema-v3-restore]=7f23b1e
    [schema-v4-stored-forms]=d52f658
    [schema-v5-replica-scope]=dca5384
    [schema-v6-deadline-summary]=82d3612
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(schema-v1 schema-v2-sync schema-v3-restore schema-v4-stored-forms schema-v5-replica-scope schema-v6-deadline-summary)

[ -d "$work" ] || git worktree add --detach "$work" "${released[${names[0]}]}"

for name in "${names[@]}"; do
    commit="${released[$name]}"
    echo "== $name from $commit"
    git -C "$work" checkout --quiet --detach "$commit"
    swift build --package-path "$work" --product branchdesk >/dev/null
    bin="$(swift build --package-path "$work" --show-bin-path)/branchdesk"
    scratch="$(mktemp -d)"
    hq_pid=""
    cleanup() { [ -z "$hq_pid" ] || kill "$hq_pid" 2>/dev/null || true; rm -rf "$scratch"; }
    trap cleanup EXIT
    export BRANCHDESK_USER=王芳
    b="$scratch/sh012"
    syncs=no
    if "$bin" --help | grep -q " certs "; then syncs=yes; fi

    if [ "$syncs" = yes ]; then
        port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
        "$bin" certs create-ca --certs "$scratch/certs" >/dev/null
        "$bin" certs create-node --certs "$scratch/certs" --node-id hq --role hq >/dev/null
        "$bin" certs create-node --certs "$scratch/certs" --node-id sh-pudong-012 --role branch >/dev/null
        "$bin" init --data "$scratch/hq" --node-id hq --role hq --certs "$scratch/certs" >/dev/null
        "$bin" init --data "$b" --node-id sh-pudong-012 --role branch --code SH012 --time-zone Asia/Shanghai \
            --certs "$scratch/certs" --hq "127.0.0.1:$port" >/dev/null
    else
        "$bin" init --data "$b" --node-id sh-pudong-012 --role branch --code SH012 --time-zone Asia/Shanghai >/dev/null
    fi

    first=$("$bin" ticket open --data "$b" --customer 张三 --phone "138 0013 8000" --channel phone --category product \
        --severity 2 --title "手机频繁死机，三天内重启二十余次" --body "买了三天就频繁死机，门店说是软件问题，要求换新机" \
        --request "更换新机并赔偿来回路费" --received-at "2026-11-21 18:30" --tag 质量)
    second=$("$bin" ticket open --data "$b" --customer 李四 --phone 021-5888-1234 --channel walk-in --category service \
        --severity 1 --title "店员态度恶劣" --body "周六下午排队四十分钟，店员不予理睬" --received-at "2026-11-22 15:10")
    third=$("$bin" ticket open --data "$b" --customer 王五 --phone 13900139000 --channel letter --category price \
        --severity 1 --title "价格与宣传不符" --body "宣传单写八折，结账按原价" --received-at "2026-11-23 09:00")
    "$bin" ticket transition --data "$b" "$first" accept >/dev/null
    "$bin" ticket assign --data "$b" "$first" --to 赵六 --department 售后部 >/dev/null
    "$bin" ticket note --data "$b" "$first" "已联系客户，约定周一到店检测" >/dev/null
    "$bin" ticket transition --data "$b" "$second" accept >/dev/null
    "$bin" ticket transition --data "$b" "$third" reject --reason "活动已于前日结束，宣传单已注明" >/dev/null
    "$bin" ticket tag --data "$b" "$second" --add 服务 --add 复查 >/dev/null
    shown="$b"

    if [ "$syncs" = yes ]; then
        "$bin" serve --data "$scratch/hq" --listen "127.0.0.1:$port" >"$scratch/hq.log" 2>&1 &
        hq_pid=$!
        for _ in $(seq 100); do grep -q listening "$scratch/hq.log" && break; sleep 0.1; done
        "$bin" sync --data "$b" --once >/dev/null
        # A concurrent edit on both sides of a dead link: HQ and the branch set the severity apart.
        kill "$hq_pid"; wait "$hq_pid" || true; hq_pid=""
        "$bin" ticket update --data "$scratch/hq" "$first" --severity 3 --by 总部投诉办 >/dev/null
        "$bin" ticket escalate --data "$scratch/hq" "$second" --to hq --by 总部投诉办 >/dev/null
        "$bin" ticket update --data "$b" "$first" --severity 1 >/dev/null
        "$bin" serve --data "$scratch/hq" --listen "127.0.0.1:$port" >"$scratch/hq.log" 2>&1 &
        hq_pid=$!
        for _ in $(seq 100); do grep -q listening "$scratch/hq.log" && break; sleep 0.1; done
        "$bin" sync --data "$b" --once >/dev/null
        kill "$hq_pid"; wait "$hq_pid" || true; hq_pid=""
        shown="$scratch/hq"
    fi

    target="$out/$name"
    rm -rf "$target"
    mkdir -p "$target"
    "$bin" ticket list --data "$shown" --json >"$target/tickets.json"
    "$bin" conflicts --data "$shown" --json >"$target/conflicts.json"
    "$bin" digest --data "$shown" >"$target/digest.txt"
    sqlite3 "$shown/branchdesk.sqlite" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
    cp "$shown/branchdesk.sqlite" "$target/branchdesk.sqlite"
    echo "$commit" >"$target/made-by-commit.txt"
    cleanup
    trap - EXIT
done
