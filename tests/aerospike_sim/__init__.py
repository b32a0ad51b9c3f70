"""A multi-node Aerospike cluster simulator speaking the info protocol.

Package map (one concern per module):
  ripemd160  pure-Python RIPEMD-160
  digest     key digest and partition id
  framing    proto header and info request/response bodies
  bitmap     684-char base64 partition bitmaps
  formats    peers / replicas / service value grammars (emit and parse)
  ownership  partition ownership of one namespace (the truth)
  faults     fault injection settings of a node
  counters   per-node request counters
  info       info command dispatcher of one node
  asmsg      minimal AS_MSG data path (records where clients route keys)
  node       one node: listener, connections, answers, faults
  cluster    membership, generations, all the controls
  control    JSON-lines control channel
  server     cluster + control channel in one loop (used by the CLI)
  client     control client, subprocess and in-process runners for tests
  infoclient minimal synchronous info-protocol client for tests and tools

Run: python3 -m tests.aerospike_sim --help
"""

from .digest import digest_partition, key_digest, partition_id
from .ripemd160 import ripemd160

__all__ = ["digest_partition", "key_digest", "partition_id", "ripemd160"]
