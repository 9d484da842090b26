#!/usr/bin/env python3
"""The Branchdesk protocol conformance kit: drives a real HQ over mutual TLS with the branch
client of branch_client.py, written from the documents in Protocol/ alone, and checks what
SYNC.md says HQ does — handshake, catch-up, a push of every action a branch makes, the live tail,
heartbeats and the dead link, every error code, the window and the poison-op path.

    python3 Protocol/conformance/conformance.py --branchdesk PATH/TO/branchdesk

It sets up a company in a temporary folder with that binary (a CA, HQ and two branch
certificates), serves HQ on 127.0.0.1, runs every check and stops HQ; it exits 1 if any check
failed. Protocol/README.md explains it for other teams.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from branch_client import WINDOW, Branch, Connection, ProtocolError, Session, encode_frame, hello, pb, read_golden, vector_dict

GOLDEN_BRANCH = "sh-012"  # the origin of the golden ops in vectors/ops.txt
OTHER_BRANCH = "sh-031"


class Company:
    """A CA, HQ served by the branchdesk binary under test, and certificates for two branches."""

    def __init__(self, binary):
        self.binary = binary
        self.folder = tempfile.mkdtemp(prefix="bdsk-kit-")
        self.certs = os.path.join(self.folder, "certs")
        self.hq_data = os.path.join(self.folder, "hq")
        self.run("certs", "create-ca", "--certs", self.certs)
        for node, role in [("hq", "hq"), (GOLDEN_BRANCH, "branch"), (OTHER_BRANCH, "branch")]:
            self.run("certs", "create-node", "--certs", self.certs, "--node-id", node, "--role", role)
        self.run("init", "--data", self.hq_data, "--node-id", "hq", "--role", "hq", "--certs", self.certs)
        self.port = free_port()
        self.server = subprocess.Popen(
            [binary, "serve", "--data", self.hq_data, "--listen", f"127.0.0.1:{self.port}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.server.stdout.readline()
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"HQ did not start: {line!r}")

    def run(self, *arguments):
        result = subprocess.run([self.binary, *arguments], capture_output=True, text=True, env={**os.environ, "BRANCHDESK_USER": "总部投诉办"})
        if result.returncode != 0:
            raise RuntimeError(f"branchdesk {' '.join(arguments)} failed: {result.stderr.strip()}")
        return result.stdout

    def connect(self, node, timeout=30.0):
        return Connection(
            "127.0.0.1", self.port, os.path.join(self.certs, "ca.pem"), os.path.join(self.certs, f"{node}.pem"),
            os.path.join(self.certs, f"{node}-key.pem"), timeout=timeout)

    def hq_status(self):
        return json.loads(self.run("status", "--data", self.hq_data, "--json"))

    def stop(self):
        if self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def expect_error(connection, code, timeout=30.0):
    """Reads until HQ's Error frame; it must carry `code`. Returns it."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            connection.receive(timeout=max(0.1, deadline - time.monotonic()))
    except ProtocolError as error:
        check(error.code == code, f"expected {code}, HQ sent {error}")
        return error.error
    finally:
        connection.close()


# The golden ops of vectors/ops.txt, made at sh-012 from its op 8 on, renumbered from 1 so that
# a new branch can push them: every OpId of sh-012 inside them moves by the same offset.


def golden_ops():
    return [(name, pb.Op.FromString(bytes.fromhex(hex_bytes)), what) for name, hex_bytes, what in read_golden("ops.txt")]


def renumbered(op, offset):
    op = pb.Op.FromString(op.SerializeToString())
    op.seq -= offset

    def move(op_id):
        if op_id.origin == GOLDEN_BRANCH:
            op_id.seq -= offset

    for change in op.changes:
        kind = change.WhichOneof("kind")
        if kind == "write":
            for seen in change.write.seen:
                move(seen)
            if change.write.value.WhichOneof("kind") == "approval":
                for sealed in change.write.value.approval.seal:
                    move(sealed.write)
        elif kind == "remove":
            for observed in change.remove.observed:
                move(observed)
    return op


def branch_pushes():
    """The golden ops a branch makes (its own origin), renumbered 1, 2, 3 …"""
    own = [op for _, op, _ in golden_ops() if op.origin == GOLDEN_BRANCH]
    offset = own[0].seq - 1
    pushes, expected = [], 1
    for op in own:
        op = renumbered(op, offset)
        op.seq = expected  # the golden set skips the ops it does not show: close the gaps
        pushes.append(op)
        expected += 1
    return pushes


def note_op(origin, seq, ticket, text):
    return pb.Op(
        origin=origin, seq=seq, hlc=(int(time.time() * 1000) << 16), ticket=ticket, actor="测试员", action="note",
        changes=[pb.Change(entry=pb.Entry(kind="note", text=text))])


class Kit:
    def __init__(self, company):
        self.company = company
        self.branch = Branch(GOLDEN_BRANCH)
        self.results = []

    def scenario(self, name, body):
        started = time.monotonic()
        try:
            body()
            self.results.append((name, None))
            print(f"ok    {name} ({time.monotonic() - started:.1f} s)", flush=True)
        except Exception as error:  # a failed check, or HQ behaving otherwise than SYNC.md says
            self.results.append((name, error))
            print(f"FAIL  {name}: {error}", flush=True)
            traceback.print_exc()

    def session(self, node=GOLDEN_BRANCH, branch=None):
        return Session(self.company.connect(node), branch or self.branch)

    # Golden vectors: what this client encodes is what the documents show.

    def golden_frames(self):
        for name, hex_bytes, what in read_golden("frames.txt"):
            data = bytes.fromhex(hex_bytes)
            frame = pb.Frame.FromString(data[4:])
            check(encode_frame(frame) == data, f"golden frame {name} re-encodes to other bytes")
        by_name = {name: bytes.fromhex(hex_bytes) for name, hex_bytes, _ in read_golden("frames.txt")}
        hello_frame = pb.Frame(
            hello=pb.Hello(min_version=2, max_version=3, node_id="sh-012", role="branch", software=pb.Frame.FromString(by_name["hello"][4:]).hello.software))
        hello_frame.hello.vector.entries.add(origin="hq", seq=3)
        hello_frame.hello.vector.entries.add(origin="sh-012", seq=7)
        check(encode_frame(hello_frame) == by_name["hello"], "the hello built from SYNC.md §9 differs from the golden bytes")
        for name, op, _ in golden_ops():
            check(op.action == name, f"golden op {name} names action {op.action}")

    # §5.1–5.3: handshake, then a push of every action a branch makes, then a second round.

    def catch_up_every_action(self):
        pushes = branch_pushes()
        check({op.action for op in pushes} >= {"open", "update", "assign", "accept", "investigate", "submit", "approve", "reply", "follow-up", "close", "reopen", "escalate", "note", "contact", "correction", "tag", "wait", "resume", "reject"}, "the golden ops lack a branch action")
        for op in pushes:
            self.branch.add(op)
        session = self.session()
        session.batch_ops = 3  # several batches, so that the window and the acks are exercised
        hq_hello = session.handshake()
        check(hq_hello.max_version >= 3 and session.version == 3, f"HQ speaks {hq_hello.min_version}..{hq_hello.max_version}")
        check(hq_hello.HasField("feed") and hq_hello.feed.epoch, "HQ's version-3 hello carries its feed (§5.5)")
        check(set(vector_dict(hq_hello.vector)) <= {GOLDEN_BRANCH}, f"HQ's hello shows other origins: {hq_hello.vector}")
        session.catch_up()
        session.connection.close()
        check(session.acked.get(GOLDEN_BRANCH) == len(pushes), f"HQ acknowledged {session.acked}, not all {len(pushes)} ops")
        shown = json.loads(self.company.run("ticket", "show", "--data", self.company.hq_data, "SH012-20261122-0004", "--json"))
        check(shown["number"] == "SH012-20261122-0004", "HQ lists the pushed ticket")
        check(len(shown["history"]) == len(pushes) - 1, f"HQ's history of the ticket holds {len(shown['history'])} ops")

        again = self.session()
        again.handshake()
        check(vector_dict(again.hq_hello.vector) == {GOLDEN_BRANCH: len(pushes)}, "a new session starts from HQ's committed vector")
        again.catch_up()
        check(not any(again.received), "nothing to receive: HQ sends a branch only its tickets' ops of other origins")
        again.connection.close()

    # §5.4 and §5.5: HQ's edit of the branch's ticket arrives live, through the feed.

    def live_tail(self):
        session = self.session()
        session.handshake()
        session.catch_up()
        self.company.run("ticket", "note", "--data", self.company.hq_data, "SH012-20261122-0004", "总部已致电顾客，确认维修进度")
        arrived = session.tail(20.0, until=lambda: any(op.origin == "hq" for batch in session.received for op in batch.ops))
        check(arrived, "HQ's note did not arrive within 20 s")
        batch = next(batch for batch in session.received if any(op.origin == "hq" for op in batch.ops))
        check(batch.HasField("feed") and batch.feed.position >= 1, "a batch from HQ's feed carries its position (§5.5)")
        # A new ticket of the branch's reaches HQ while the session stays.
        seq = self.branch.vector[GOLDEN_BRANCH] + 1
        self.branch.add(note_op(GOLDEN_BRANCH, seq, "sh-012:4", "门店已联系顾客"))
        session.tail(10.0, until=lambda: session.acked.get(GOLDEN_BRANCH, 0) >= seq)
        check(session.acked.get(GOLDEN_BRANCH) == seq, "the live push was not acknowledged")
        session.connection.close()
        peer = next(p for p in self.company.hq_status()["peers"] if p["nodeID"] == GOLDEN_BRANCH)
        check(peer["opsToSend"] == 0, f"HQ still counts {peer['opsToSend']} ops to send the branch: the feed ack was not taken")

    # §5.6: heartbeats every 5 s of silence, and the dead link at 20 s, told before closing.

    def heartbeats_and_dead_link(self):
        session = self.session()
        session.handshake()
        session.catch_up()
        silent_since = session.connection.last_sent
        try:
            session.tail(30.0, heartbeats=False)
            raise AssertionError("HQ did not declare the silent link dead within 30 s")
        except ProtocolError as error:
            dead_at = time.monotonic() - silent_since
            check(error.code == "ERROR_CODE_TIMEOUT", f"the dead link was told as {error}")
        finally:
            session.connection.close()
        check(19.5 <= dead_at <= 23.0, f"HQ declared the link dead after {dead_at:.1f} s of silence, not 20 s")
        gaps = [b - a for a, b in zip(session.heartbeats, session.heartbeats[1:])]
        check(len(session.heartbeats) >= 3, f"only {len(session.heartbeats)} heartbeats in 20 s of silence")
        check(all(4.5 <= gap <= 6.0 for gap in gaps), f"heartbeats {gaps} s apart, not 5 s")

    # §7: every error code HQ sends a branch.

    def unsupported_version(self):
        connection = self.company.connect(GOLDEN_BRANCH)
        connection.send(hello(self.branch, versions=(9, 9)))
        error = expect_error(connection, "ERROR_CODE_UNSUPPORTED_VERSION")
        check("9...9" in error.reason, error.reason)

    def identity_mismatch(self):
        connection = self.company.connect(GOLDEN_BRANCH)
        connection.send(hello(self.branch, node_id=OTHER_BRANCH))
        expect_error(connection, "ERROR_CODE_IDENTITY_MISMATCH")

    def bad_frame(self):
        connection = self.company.connect(GOLDEN_BRANCH)
        connection.send_bytes(b"HTTP" + encode_frame(hello(self.branch)))
        expect_error(connection, "ERROR_CODE_BAD_FRAME")

    def unexpected_message(self):
        session = self.session()
        session.handshake()
        session.connection.send(pb.Frame(ack=pb.Ack(batch_id=7)))
        expect_error(session.connection, "ERROR_CODE_UNEXPECTED_MESSAGE")

    def unauthorized(self):
        forged = next(op for _, op, _ in golden_ops() if op.origin == "hq")
        session = self.session()
        session.handshake()
        session.connection.send(pb.Frame(batch=pb.Batch(batch_id=1, ops=[forged])))
        error = expect_error(session.connection, "ERROR_CODE_UNAUTHORIZED")
        check(f"{forged.origin}#{forged.seq}" in error.reason, f"the refusal names the op: {error.reason}")

    def batch_too_large(self):
        ops = [note_op(OTHER_BRANCH, seq, "sh-031:1", "x") for seq in range(1, 5002)]
        session = self.session(OTHER_BRANCH, Branch(OTHER_BRANCH))
        session.handshake()
        session.connection.send(pb.Frame(batch=pb.Batch(batch_id=1, ops=ops)))
        expect_error(session.connection, "ERROR_CODE_BATCH_TOO_LARGE")

    def internal_over_session_limit(self):
        held = []
        try:
            for _ in range(2):
                session = self.session(OTHER_BRANCH, Branch(OTHER_BRANCH))
                session.handshake()
                held.append(session)
            third = self.company.connect(OTHER_BRANCH)
            third.send(hello(Branch(OTHER_BRANCH)))
            expect_error(third, "ERROR_CODE_INTERNAL")
        finally:
            for session in held:
                session.connection.close()

    def timeout_without_hello(self):
        connection = self.company.connect(GOLDEN_BRANCH, timeout=20.0)
        connection.sock.do_handshake()
        started = time.monotonic()
        expect_error(connection, "ERROR_CODE_TIMEOUT", timeout=20.0)
        waited = time.monotonic() - started
        check(9.5 <= waited <= 13.0, f"HQ waited {waited:.1f} s for a hello, not the 10 s handshake timeout")

    def window_exceeded(self):
        branch = Branch(OTHER_BRANCH)
        session = self.session(OTHER_BRANCH, branch)
        session.handshake()
        start = vector_dict(session.hq_hello.vector).get(OTHER_BRANCH, 0)
        data = b""
        for batch_id in range(1, 2 * WINDOW + 1):
            first = start + (batch_id - 1) * 500 + 1
            ops = [note_op(OTHER_BRANCH, seq, "sh-031:1", f"第{seq}条") for seq in range(first, first + 500)]
            data += encode_frame(pb.Frame(batch=pb.Batch(batch_id=batch_id, ops=ops)))
        session.connection.send_bytes(data)  # eight batches at once, waiting for no ack
        acks = 0
        try:
            while True:
                frame = session.connection.receive()
                acks += frame.WhichOneof("body") == "ack"
        except ProtocolError as error:
            check(error.code == "ERROR_CODE_WINDOW_EXCEEDED", f"expected WINDOW_EXCEEDED, HQ sent {error}")
        finally:
            session.connection.close()
        check(acks < WINDOW, f"HQ acknowledged {acks} batches beyond the window")

    # §6.2: a poison op is rejected by name; withdrawn at its origin, it passes.

    def poison_op(self):
        seq = self.branch.vector[GOLDEN_BRANCH] + 1
        poison = pb.Op(
            origin=GOLDEN_BRANCH, seq=seq, hlc=(int(time.time() * 1000) << 16), ticket="sh-012:4", actor="测试员", action="update",
            changes=[pb.Change(write=pb.Write(field="severity", value=pb.Value(number=9)))])
        session = self.session()
        session.handshake()
        session.connection.send(pb.Frame(batch=pb.Batch(batch_id=1, ops=[poison])))
        error = expect_error(session.connection, "ERROR_CODE_OP_REJECTED")
        check((error.rejected.origin, error.rejected.seq) == (GOLDEN_BRANCH, seq), f"the rejection names {error.rejected}")
        check("severity" in error.reason, error.reason)
        # Withdrawn as SYNC.md §6.2 says: same id, clock and ticket; a note saying why.
        withdrawn = pb.Op(
            origin=GOLDEN_BRANCH, seq=seq, hlc=poison.hlc, ticket=poison.ticket, actor="管理员", action="note",
            changes=[pb.Change(entry=pb.Entry(kind="note", text=f"撤回了被拒收的编辑（update，{GOLDEN_BRANCH}#{seq}）：{error.reason}"))])
        self.branch.add(withdrawn)
        session = self.session()
        session.handshake()
        session.catch_up()
        session.connection.close()
        check(session.acked.get(GOLDEN_BRANCH) == seq, "the withdrawn op was not acknowledged")

    # §5.7, §7: a node shutting down tells its live sessions.

    def shutting_down(self):
        session = self.session()
        session.handshake()
        session.catch_up()
        self.company.server.send_signal(signal.SIGTERM)
        try:
            session.tail(30.0)
            raise AssertionError("HQ did not tell the live session it is shutting down")
        except ProtocolError as error:
            check(error.code == "ERROR_CODE_SHUTTING_DOWN", f"HQ's shutdown was told as {error}")
        finally:
            session.connection.close()
        check(self.company.server.wait(timeout=30) == 0, "HQ did not exit 0 after a graceful shutdown")

    def run(self):
        self.scenario("golden frames and ops re-encode byte for byte", self.golden_frames)
        self.scenario("handshake, catch-up pushing every action a branch makes, and a second round", self.catch_up_every_action)
        self.scenario("live tail: HQ's edit arrives through the feed, a new op is pushed", self.live_tail)
        # The two slow checks of timers run side by side.
        slow = threading.Thread(target=self.scenario, args=("TIMEOUT: no hello within the handshake timeout", self.timeout_without_hello))
        slow.start()
        self.scenario("heartbeats every 5 s of silence; the dead link at 20 s, told as TIMEOUT", self.heartbeats_and_dead_link)
        slow.join()
        self.scenario("UNSUPPORTED_VERSION", self.unsupported_version)
        self.scenario("IDENTITY_MISMATCH", self.identity_mismatch)
        self.scenario("BAD_FRAME: a wrong magic", self.bad_frame)
        self.scenario("UNEXPECTED_MESSAGE: an ack of no batch", self.unexpected_message)
        self.scenario("UNAUTHORIZED: a branch pushing HQ's op", self.unauthorized)
        self.scenario("BATCH_TOO_LARGE: 5,001 ops", self.batch_too_large)
        self.scenario("INTERNAL: a third session of one branch", self.internal_over_session_limit)
        self.scenario("WINDOW_EXCEEDED: eight batches without waiting", self.window_exceeded)
        self.scenario("OP_REJECTED, then the withdrawn op passes (§6.2)", self.poison_op)
        self.scenario("SHUTTING_DOWN: HQ stopping tells its live session", self.shutting_down)
        failed = [name for name, error in self.results if error is not None]
        print(f"\n{len(self.results) - len(failed)} of {len(self.results)} checks passed" + (f"; failed: {', '.join(failed)}" if failed else ""))
        return not failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--branchdesk", default=os.environ.get("BRANCHDESK_BIN", "branchdesk"), help="the branchdesk binary whose HQ is checked")
    arguments = parser.parse_args()
    company = Company(arguments.branchdesk)
    try:
        ok = Kit(company).run()
    finally:
        company.stop()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
