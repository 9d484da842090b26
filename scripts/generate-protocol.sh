#!/usr/bin/env bash
# Regenerates Sources/WireForms/Generated/*.pb.swift from Protocol/*.proto (the sync protocol and
# the stored forms of the merge state).
# Needs protoc (Debian: apt-get install protobuf-compiler; or PyPI's grpcio-tools, whose
# `python3 -m grpc_tools.protoc` is used when no protoc is on the PATH) and protoc-gen-swift built from
# swift-protobuf at the version Package.swift names (its first build takes about ten minutes,
# so the generated files are committed and CI never runs this):
#   git clone https://github.com/apple/swift-protobuf.git && cd swift-protobuf && git checkout 1.39.0
#   swift build -c release --product protoc-gen-swift      # then pass its path as PROTOC_GEN_SWIFT
set -euo pipefail
cd "$(dirname "$0")/.."
plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}"
[ -x "$plugin" ] || { echo "error: set PROTOC_GEN_SWIFT to a built protoc-gen-swift (see this script's header)" >&2; exit 1; }
if command -v protoc >/dev/null; then protoc=(protoc); else protoc=(python3 -m grpc_tools.protoc); fi
"${protoc[@]}" --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Public --swift_out=Sources/WireForms/Generated \
    --proto_path=Protocol Protocol/sync.proto Protocol/storage.proto
echo "generated Sources/WireForms/Generated/sync.pb.swift and storage.pb.swift"
