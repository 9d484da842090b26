"""A Branchdesk branch client written from Protocol/SYNC.md, MERGE.md, PAYLOAD.md, sync.proto and
the golden vectors alone, as another team would write one. It knows nothing of the server's code.

The messages come from sync.proto, compiled at import time with grpcio-tools' protoc (PyPI
`grpcio-tools`, which brings `protobuf`). Everything else — TLS, the magic, the framing, the
hello, batches under the window, acks, caught-up, feeds, heartbeats — follows SYNC.md, whose
sections are cited where each rule is applied.
"""

import importlib
import os
import socket
import ssl
import struct
import sys
import tempfile
import time

PROTOCOL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAGIC = b"BDSK"  # §3
MAX_FRAME = 4 * 1024 * 1024  # §3
WINDOW = 4  # §5.2
HEARTBEAT_INTERVAL = 5.0  # §5.6
SOFTWARE = "branchdesk-conformance-kit 1"


def _compile_protocol():
    """sync.proto as Python classes, compiled into a temporary folder."""
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="bdsk-proto-")
    status = protoc.main(["protoc", f"--proto_path={PROTOCOL}", f"--python_out={out}", os.path.join(PROTOCOL, "sync.proto")])
    if status != 0:
        raise RuntimeError("protoc could not compile sync.proto")
    sys.path.insert(0, out)
    return importlib.import_module("sync_pb2")


pb = _compile_protocol()


class ProtocolError(Exception):
    """The peer ended the session with an Error frame (§7), or broke the protocol."""

    def __init__(self, message, error=None):
        super().__init__(message)
        self.error = error

    @property
    def code(self):
        return pb.ErrorCode.Name(self.error.code) if self.error is not None else None


# Vectors (§1, §4): dicts from origin to seq, as VersionVector messages sorted by origin.


def vector_message(vector):
    return pb.VersionVector(entries=[pb.VectorEntry(origin=o, seq=s) for o, s in sorted(vector.items()) if s > 0])


def vector_dict(message):
    return {entry.origin: entry.seq for entry in message.entries}


def encode_frame(frame):
    """One frame on the wire: a 4-byte big-endian length, then the Frame (§3)."""
    body = frame.SerializeToString()
    return struct.pack(">I", len(body)) + body


def read_golden(name):
    """The lines of a golden vector file as (name, hex, what) in file order."""
    entries, what = [], None
    with open(os.path.join(PROTOCOL, "vectors", name), encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line.startswith("# "):
                what = line[2:]
            elif line and not line.startswith("#"):
                key, hex_bytes = line.split(" ")
                entries.append((key, hex_bytes, what))
    return entries


class Connection:
    """A mutually authenticated TLS 1.3 connection to a node (§2) carrying frames (§3)."""

    def __init__(self, host, port, ca, cert, key, timeout=30.0):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.check_hostname = False  # nodes are named by their certificates, not their addresses (§2)
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(ca)
        context.load_cert_chain(cert, key)
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock = context.wrap_socket(raw)
        self.buffer = b""
        self.magic_sent = False
        self.magic_read = False
        self.last_sent = time.monotonic()

    def peer_certificate_subject(self):
        return dict(part[0] for part in self.sock.getpeercert()["subject"])

    def send_bytes(self, data):
        self.sock.sendall(data)
        self.last_sent = time.monotonic()

    def send(self, frame):
        data = encode_frame(frame)
        if not self.magic_sent:
            data = MAGIC + data
            self.magic_sent = True
        self.send_bytes(data)

    def _fill(self, count, deadline):
        while len(self.buffer) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no frame from the peer in time")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the peer closed the connection")
            self.buffer += chunk

    def _take(self, count):
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def receive(self, timeout=30.0):
        """The next frame; an Error frame is raised as ProtocolError."""
        deadline = time.monotonic() + timeout
        if not self.magic_read:
            self._fill(4, deadline)
            magic = self._take(4)
            if magic != MAGIC:
                raise ProtocolError(f"the peer sent {magic!r}, not the magic")
            self.magic_read = True
        self._fill(4, deadline)
        (length,) = struct.unpack(">I", self.buffer[:4])
        if length > MAX_FRAME:
            raise ProtocolError(f"a frame of {length} bytes is over the limit")
        self._fill(4 + length, deadline)
        self._take(4)
        frame = pb.Frame.FromString(self._take(length))
        if frame.WhichOneof("body") == "error":
            raise ProtocolError(f"{pb.ErrorCode.Name(frame.error.code)}: {frame.error.reason}", frame.error)
        return frame

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Branch:
    """A branch replica held in memory: its ops, its vector and its place in HQ's feed (§5.5)."""

    def __init__(self, node_id):
        self.node_id = node_id
        self.ops = {}  # (origin, seq) -> Op
        self.feed = None  # (epoch, position)

    @property
    def vector(self):
        """Own origin: the contiguous prefix; others: the highest seq held (§5.5, version 3)."""
        vector = {}
        own = 0
        while (self.node_id, own + 1) in self.ops:
            own += 1
        for origin, seq in self.ops:
            if origin != self.node_id:
                vector[origin] = max(vector.get(origin, 0), seq)
        if own:
            vector[self.node_id] = own
        return vector

    def own_ops_above(self, seq):
        return [self.ops[(self.node_id, s)] for s in range(seq + 1, self.vector.get(self.node_id, 0) + 1)]

    def add(self, op):
        self.ops[(op.origin, op.seq)] = op


def hello(branch, versions=(2, 3), node_id=None, role="branch"):
    """The branch's hello (§5.1): its vector and, under version 3, its place in its feed."""
    message = pb.Hello(
        min_version=versions[0], max_version=versions[1], node_id=node_id or branch.node_id, role=role,
        vector=vector_message(branch.vector), software=SOFTWARE)
    if branch.feed is not None:
        message.feed.epoch, message.feed.position = branch.feed
    return pb.Frame(hello=message)


class Session:
    """One session of a branch with HQ, as SYNC.md §5 describes it."""

    def __init__(self, connection, branch, batch_ops=500):
        self.connection = connection
        self.branch = branch
        self.batch_ops = batch_ops
        self.version = None
        self.hq_hello = None
        self.cursor = {}  # HQ's vector as this side has fed it (§5.2)
        self.acked = {}  # the last acknowledged vector (§5.2)
        self.in_flight = []  # (batch id, highest own seq in it)
        self.next_batch = 1
        self.expected_batch = 1
        self.caught_up_sent = False
        self.caught_up_received = None
        self.received = []  # the HQ batches applied, for the scenarios to inspect
        self.heartbeats = []  # monotonic times of HQ's heartbeats

    def handshake(self, versions=(2, 3)):
        self.connection.send(hello(self.branch, versions))
        frame = self.connection.receive()
        if frame.WhichOneof("body") != "hello":
            raise ProtocolError(f"expected HQ's hello, got {frame.WhichOneof('body')}")
        self.hq_hello = frame.hello
        subject = self.connection.peer_certificate_subject()
        if subject.get("organizationalUnitName") != "hq" or self.hq_hello.role != "hq" or self.hq_hello.node_id != subject.get("commonName"):
            raise ProtocolError(f"dialled HQ but the peer is {subject} claiming {self.hq_hello.node_id} ({self.hq_hello.role})")
        self.version = min(versions[1], self.hq_hello.max_version)
        self.cursor = vector_dict(self.hq_hello.vector)
        self.acked = dict(self.cursor)  # before any ack: what the peer said it holds (§5.2)
        if self.version >= 3 and self.hq_hello.HasField("feed"):
            epoch, end = self.hq_hello.feed.epoch, self.hq_hello.feed.position
            held = self.branch.feed
            if held is None or held[0] != epoch or held[1] > end:
                self.branch.feed = (epoch, 0)  # read the feed from 0 (§5.5)
        return self.hq_hello

    def _pump(self):
        """Sends batches of own ops above the cursor while the window has room (§5.2)."""
        while len(self.in_flight) < WINDOW:
            pending = self.branch.own_ops_above(self.cursor.get(self.branch.node_id, 0))[: self.batch_ops]
            if not pending:
                if not self.caught_up_sent:
                    # Over version 3 the vectors between a branch and HQ list the branch's origin only (§5.5).
                    shown = {self.branch.node_id: self.cursor.get(self.branch.node_id, 0)}
                    self.connection.send(pb.Frame(caught_up=pb.CaughtUp(vector=vector_message(shown))))
                    self.caught_up_sent = True
                return
            batch = pb.Batch(batch_id=self.next_batch, ops=pending)
            self.connection.send(pb.Frame(batch=batch))
            self.in_flight.append((self.next_batch, pending[-1].seq))
            self.cursor[self.branch.node_id] = pending[-1].seq
            self.next_batch += 1

    def handle(self, frame):
        """Carries out one frame from HQ (an Error frame was raised by `receive`)."""
        kind = frame.WhichOneof("body")
        if kind == "batch":
            batch = frame.batch
            if batch.batch_id != self.expected_batch:
                raise ProtocolError(f"HQ's batch {batch.batch_id} arrived where {self.expected_batch} was due")
            self.expected_batch += 1
            for op in batch.ops:
                self.branch.add(op)  # duplicates by (origin, seq) are harmless (§5.2)
            if batch.HasField("feed"):
                self.branch.feed = (batch.feed.epoch, batch.feed.position)  # one "transaction" with the ops (§5.5)
            self.received.append(batch)
            ack = pb.Ack(batch_id=batch.batch_id, vector=vector_message(self.branch.vector))
            if self.branch.feed is not None and self.version >= 3:
                ack.feed.epoch, ack.feed.position = self.branch.feed
            self.connection.send(pb.Frame(ack=ack))
        elif kind == "ack":
            if not self.in_flight or self.in_flight[0][0] != frame.ack.batch_id:
                raise ProtocolError(f"an ack of batch {frame.ack.batch_id}, not the oldest in flight")
            self.in_flight.pop(0)
            self.acked = vector_dict(frame.ack.vector)
            if frame.ack.refused:
                raise ProtocolError("HQ left ops out: " + "; ".join(frame.ack.refused))
        elif kind == "caught_up":
            self.caught_up_received = frame.caught_up
        elif kind == "heartbeat":
            self.heartbeats.append(time.monotonic())
        elif kind == "hello":
            raise ProtocolError("a second hello")

    @property
    def round_finished(self):
        """§5.3: caught-up both ways, nothing in flight, and each side holds the other's ops."""
        if not (self.caught_up_sent and self.caught_up_received is not None and not self.in_flight):
            return False
        if self.version >= 3 and self.branch.feed is not None and self.branch.feed[1] < self.caught_up_received.feed.position:
            return False
        return self.acked.get(self.branch.node_id, 0) >= self.branch.vector.get(self.branch.node_id, 0)

    def catch_up(self, timeout=60.0):
        """Runs the round of §5.2–5.3 to its end."""
        deadline = time.monotonic() + timeout
        self._pump()
        while not self.round_finished:
            self.handle(self.connection.receive(timeout=max(0.1, deadline - time.monotonic())))
            self._pump()

    def tail(self, seconds, until=None, heartbeats=True):
        """The live tail (§5.4) for `seconds` or until `until()` holds; pushes new own ops, acks
        HQ's batches and, when `heartbeats`, sends one after 5 s of sending nothing (§5.6)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if until is not None and until():
                return True
            self._pump()
            wait = deadline - time.monotonic()
            if heartbeats:
                wait = min(wait, HEARTBEAT_INTERVAL - (time.monotonic() - self.connection.last_sent))
                if wait <= 0:
                    self.connection.send(pb.Frame(heartbeat=pb.Heartbeat(sent_at_ms=int(time.time() * 1000))))
                    continue
            try:
                self.handle(self.connection.receive(timeout=max(0.05, wait)))
            except TimeoutError:
                pass
        return until() if until is not None else True
