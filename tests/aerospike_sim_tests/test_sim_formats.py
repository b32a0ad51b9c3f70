"""Framing and value grammars, byte for byte against spec sections 1, 3, 4 and 7.2."""

import pytest

from tests.aerospike_sim import bitmap, formats
from tests.aerospike_sim.framing import (FramingError, build_response, check_header,
                                         command_name, command_params, decode_header,
                                         encode_header, frame, parse_response, split_request)

A, B = "BB9020011AC4202", "BB9030011AC4202"
EVEN, ODD = set(range(0, 4096, 2)), set(range(1, 4096, 2))
BITMAP_A = "q" * 680 + "qqo="
BITMAP_B = "V" * 680 + "VVU="


# ------------------------------------------------------------------ framing

def test_node_request_bytes():
    assert frame(b"node\n").hex(" ") == "02 01 00 00 00 00 00 05 6e 6f 64 65 0a"


def test_tend_request_and_response_headers():
    body = b"node\npeers-generation\npartition-generation\n"
    assert len(body) == 43
    assert encode_header(len(body)).hex(" ") == "02 01 00 00 00 00 00 2b"
    resp = build_response([(b"node", A), (b"peers-generation", "4"),
                           (b"partition-generation", "3")])
    assert resp == ("node\t%s\npeers-generation\t4\npartition-generation\t3\n" % A).encode()
    assert len(resp) == 63
    assert encode_header(len(resp)).hex(" ") == "02 01 00 00 00 00 00 3f"


def test_header_is_48_bit_big_endian():
    h = encode_header(0x0102030405, msg_type=3)
    assert h == bytes([2, 3, 0, 1, 2, 3, 4, 5])
    assert decode_header(h) == (2, 3, 0x0102030405)
    assert decode_header(encode_header((1 << 48) - 1)) == (2, 1, (1 << 48) - 1)
    with pytest.raises(ValueError):
        encode_header(1 << 48)


@pytest.mark.parametrize("header", [
    bytes([1, 1, 0, 0, 0, 0, 0, 5]),            # version 1
    bytes([2, 0, 0, 0, 0, 0, 0, 5]),            # type 0
    bytes([2, 6, 0, 0, 0, 0, 0, 5]),            # type 6
    bytes([0, 1, 0, 0, 0, 0, 0, 5]),            # version 0 only for admin
    encode_header(128 * 1024 * 1024 + 1),       # over 128 MiB
    bytes([22, 3, 1, 0, 0, 1, 0, 0]),           # TLS ClientHello
])
def test_server_rejects_bad_headers(header):
    with pytest.raises(FramingError):
        check_header(header)


def test_server_accepts_good_headers():
    assert check_header(encode_header(128 * 1024 * 1024)) == (1, 128 * 1024 * 1024)
    assert check_header(bytes([0, 2, 0, 0, 0, 0, 0, 16])) == (2, 16)
    for t in range(1, 6):
        assert check_header(encode_header(0, t))[0] == t


def test_request_lines_up_to_last_newline():
    assert split_request(b"node\nbuild\n") == [b"node", b"build"]
    assert split_request(b"node\nbuild") == [b"node"]
    assert split_request(b"node") == []
    assert split_request(b"") == []
    assert split_request(b"\n") == [b""]


def test_command_name_and_params():
    assert command_name(b"replicas:max=2") == b"replicas"
    assert command_name(b"a/b:c") == b"a"
    assert command_name(b"x;y") == b"x"
    assert command_params(b"user-agent-set:value=MSxj;k=v") == {"value": "MSxj", "k": "v"}
    assert command_params(b"node") == {}


def test_response_parse_tolerates_line_without_tab():
    assert parse_response(b"node\tA\nbuild\n") == [(b"node", b"A"), (b"build", b"")]


def test_values_with_tab_or_newline_are_refused():
    with pytest.raises(ValueError):
        build_response([(b"x", "a\tb")])


# ------------------------------------------------------------------- peers

def test_peers_spec_section_3_example():
    value = formats.format_peers(12, [
        (B, [("172.17.0.3", 3000)]),
        ("BB9040011AC4202", [("172.17.0.4", 3000), ("10.0.0.4", 3100), ("2001:db8::4", 3000)]),
    ])
    assert value == ("12,3000,[[BB9030011AC4202,,[172.17.0.3]],"
                     "[BB9040011AC4202,,[172.17.0.4,10.0.0.4:3100,[2001:db8::4]]]]")


def test_peers_tls_example():
    value = formats.format_peers(12, [(B, [("172.17.0.3", 4333)])], {B: "node3.example"})
    assert value == "12,3000,[[BB9030011AC4202,node3.example,[172.17.0.3:4333]]]"


def test_peers_spec_7_2_and_single_node():
    assert formats.format_peers(5, [(B, [("127.0.0.1", 3001)])]) == \
        "5,3000,[[BB9030011AC4202,,[127.0.0.1:3001]]]"
    assert formats.format_peers(5, [(A, [("127.0.0.1", 3000)])]) == \
        "5,3000,[[BB9020011AC4202,,[127.0.0.1]]]"
    assert formats.format_peers(3, []) == "3,3000,[]"
    assert formats.format_peers(7, [("A2", [("127.0.0.1", 3001)]), ("A3", [("127.0.0.1", 3002)])]) \
        == "7,3000,[[A2,,[127.0.0.1:3001]],[A3,,[127.0.0.1:3002]]]"


def test_peers_parse_is_inverse():
    text = ("12,3000,[[BB9030011AC4202,,[172.17.0.3]],"
            "[BB9040011AC4202,,[172.17.0.4,10.0.0.4:3100,[2001:db8::4]]]]")
    gen, port, peers = formats.parse_peers(text)
    assert (gen, port) == (12, 3000)
    assert peers[1] == ("BB9040011AC4202", "",
                        [("172.17.0.4", 3000), ("10.0.0.4", 3100), ("2001:db8::4", 3000)])
    assert formats.parse_peers("3,,[]") == (3, 3000, [])


# ---------------------------------------------------------------- replicas

def test_bitmap_layout():
    assert bitmap.encode(EVEN) == BITMAP_A
    assert bitmap.encode(ODD) == BITMAP_B
    assert bitmap.encode([]) == "A" * 680 + "AAA="
    assert bitmap.encode(range(4096)) == "/" * 680 + "//8="
    raw = bitmap.to_bytes([0, 10, 4095])
    assert raw[0] == 0x80 and raw[1] == 0x20 and raw[511] == 0x01
    assert bitmap.decode(bitmap.encode([0, 7, 10, 492, 1207, 4094, 4095])) == \
        [0, 7, 10, 492, 1207, 4094, 4095]
    with pytest.raises(ValueError):
        bitmap.decode("AAAA")


def test_replicas_body_of_spec_7_2():
    body_a = build_response([(b"partition-generation", "3"),
                             (b"replicas", formats.format_replicas([("test", 0, [EVEN, ODD])]))])
    body_b = build_response([(b"partition-generation", "3"),
                             (b"replicas", formats.format_replicas([("test", 0, [ODD, EVEN])]))])
    expected_a = ("partition-generation\t3\nreplicas\ttest:0,2,%s,%s\n" % (BITMAP_A, BITMAP_B)).encode()
    expected_b = ("partition-generation\t3\nreplicas\ttest:0,2,%s,%s\n" % (BITMAP_B, BITMAP_A)).encode()
    assert body_a == expected_a and body_b == expected_b
    assert len(body_a) == 1411 == len(body_b)
    assert encode_header(len(body_a)).hex(" ") == "02 01 00 00 00 00 05 83"


@pytest.mark.parametrize("pid,byte,mask,master", [
    (0, 0, 0x80, A), (1, 0, 0x40, B), (7, 0, 0x01, B), (10, 1, 0x20, A),
    (492, 61, 0x08, A), (1207, 150, 0x01, B), (4094, 511, 0x02, A), (4095, 511, 0x01, B),
])
def test_decoded_table_of_spec_7_2(pid, byte, mask, master):
    assert (pid >> 3, 0x80 >> (pid & 7)) == (byte, mask)
    table = {}
    for node, cols in ((A, [EVEN, ODD]), (B, [ODD, EVEN])):
        for ns, regime, columns in formats.parse_replicas(formats.format_replicas([("test", 0, cols)])):
            assert (ns, regime) == ("test", 0)
            for c, pids in enumerate(columns):
                for p in pids:
                    table.setdefault(p, [None, None])[c] = node
    assert table[pid] == [master, B if master == A else A]


def test_replicas_sc_regime_and_several_namespaces():
    value = formats.format_replicas([("test", 7, [EVEN, ODD]), ("bar", 0, [EVEN])])
    assert value.startswith("test:7,2,")
    assert ";bar:0,1," in value and not value.endswith(";")
    assert formats.format_replicas([("test", 7, [EVEN, ODD])], max_cols=1) == "test:7,1," + BITMAP_A


def test_replicas_all_and_master():
    assert formats.format_replicas_all([("test", 7, [EVEN, ODD])]) == \
        "test:2,%s,%s" % (BITMAP_A, BITMAP_B)
    assert formats.format_replicas_master([("test", 0, [EVEN, ODD]), ("bar", 0, [ODD])]) == \
        "test:%s;bar:%s" % (BITMAP_A, BITMAP_B)


def test_service_formats():
    assert formats.format_service([("127.0.0.1", 3100)]) == "127.0.0.1:3100"
    assert formats.format_service([("127.0.0.1", 3000), ("::1", 3001)]) == "127.0.0.1:3000,[::1]:3001"
