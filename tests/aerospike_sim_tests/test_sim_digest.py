"""RIPEMD-160 and key digests against the spec's test vectors (section 7.1)."""

import hashlib

import pytest

from tests.aerospike_sim.digest import digest_partition, key_digest, partition_id
from tests.aerospike_sim.ripemd160 import ripemd160

# (set, key, hashed bytes hex, digest hex, pid) from spec section 7.1.
VECTORS = [
    ("set", "", "73657403", "2819b1ff6e346a43b4f5f6b77a88bc3eaac22a83", 2344),
    ("set", "s", "7365740373", "607cddba7cd111745ef0a3d783d57f0e83c8f311", 3168),
    ("set", "aaaaaaaaaa", "73657403" + "61" * 10, "5979fb32a80da070ff356f7695455592272e36c2", 2393),
    ("set", 0, "736574010000000000000000", "93d943aae37b017ad7e011b0c1d2e2143c2fb37d", 2451),
    ("set", 1, "736574010000000000000001", "82d7213b469812947c109a6d341e3b5b1dedec1f", 1922),
    ("set", -1, "73657401ffffffffffffffff", "22116d253745e29fc63fdf760b6e26f7e197e01d", 290),
    (None, "key1", "036b657931", "579f05ecf9e6a9e796f4da2ab0b1323364df5c10", 3927),
    ("demo", "key1", "64656d6f036b657931", "ec91192d4b7f8ce35d5d78d34bca65cbaaaac960", 492),
    ("test", "hello", "746573740368656c6c6f", "adc03a48e7969ecb3674b4065b35b9fe0ea3bd50", 173),
    ("users", "alice", "757365727303616c696365", "da59d2c81357e4165b50cef5f1feaa053ae7fdf9", 2522),
    (None, 1, "010000000000000001", "a443f05d05d962202b59abb402afae1737dbf66a", 932),
    (None, 0, "010000000000000000", "b346137ba9189579da520162dfdcd61a10fe37d6", 1715),
    ("demo", 1, "64656d6f010000000000000001", "b7f4b83889e2da67de683e1df6919a1eacc446c8", 1207),
    ("test", 1234567890123, "74657374010000011f71fb04cb", "1e383049610beeafbb7ef70791c40ffb6c07578f", 2078),
    ("demo", b"\x01\x02\x03", "64656d6f04010203", "ff31c926fbef445648ce63ca72a698a5473425c1", 511),
]


def test_ripemd160_abc():
    assert ripemd160(b"abc").hex() == "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"


def test_ripemd160_standard_vectors():
    # The algorithm's published reference values.
    assert ripemd160(b"").hex() == "9c1185a5c5e9fc54612808977ee8f548b2258d31"
    assert ripemd160(b"message digest").hex() == "5d0689ef49d2fae572b881b123a85ffa21595f36"
    assert ripemd160(b"a" * 1000000).hex() == "52783243c1697bdbe16d37f97f68f08325dc1528"


@pytest.mark.parametrize("set_name,key,hashed,digest,pid", VECTORS)
def test_spec_vectors(set_name, key, hashed, digest, pid):
    assert ripemd160(bytes.fromhex(hashed)).hex() == digest
    assert key_digest(set_name, key).hex() == digest
    assert partition_id(set_name, key) == pid
    assert digest_partition(bytes.fromhex(digest)) == pid


def test_worked_pid_example():
    # ec91... -> 0x91EC & 0xFFF = 492
    assert digest_partition(bytes.fromhex("ec91") + bytes(18)) == 492


def test_matches_hashlib_when_available():
    try:
        hashlib.new("ripemd160")
    except ValueError:
        pytest.skip("hashlib has no ripemd160 here (OpenSSL 3 without legacy provider)")
    for n in range(0, 300, 7):
        data = bytes((i * 31 + n) & 0xFF for i in range(n))
        assert ripemd160(data) == hashlib.new("ripemd160", data).digest()


def test_rejects_bool_and_out_of_range():
    with pytest.raises(TypeError):
        key_digest("s", True)
    with pytest.raises(ValueError):
        key_digest("s", 1 << 63)
