#!/usr/bin/python3
# Opens a sealed activation delivery the way the notifier will: the
# subject's data key is unwrapped with the master key (AES-256-GCM, AAD =
# subject id), then oss.deliveries.sealed_secret (nonce || ct || tag) is
# opened with AAD = subject_id "|" "delivery|<delivery_id>". Prints the
# plaintext JSON ({"otp": ..., "token": ...}). Used by test_lifecycle.sh
# until the notifier delivers activation messages (then the test reads the
# mail sink instead). Needs OSS_PG_URL and OSS_CONFIG; /usr/bin/python3
# with python3-cryptography.
import hashlib, os, subprocess, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

def psql(sql):
    return subprocess.run(["psql", "-X", "-qtA", "-F", "|", os.environ["OSS_PG_URL"], "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()

def master_keys():
    path = None
    for line in open(os.environ["OSS_CONFIG"]):
        k, _, v = line.partition("=")
        if k.strip() == "crypto.master_key_file":
            path = v.strip()
    keys = {}
    for line in open(path or "var/keys/master.key"):
        line = line.strip()
        if len(line) == 64:
            key = bytes.fromhex(line)
            keys[hashlib.sha256(key).hexdigest()[:16]] = key
    return keys

delivery = sys.argv[1]
if len(delivery) != 36 or any(c not in "0123456789abcdef-" for c in delivery):
    sys.exit("bad delivery id")
row = psql("SELECT d.subject_id, k.master_key_id, encode(k.wrapped_key, 'hex'), "
           "encode(d.sealed_secret, 'hex') FROM oss.deliveries d JOIN oss.subject_keys k "
           "USING (subject_id) WHERE d.delivery_id = '%s'" % delivery)
if not row:
    sys.exit("no such delivery")
subject, mkid, wrapped, sealed = row.split("|")
wrapped, sealed = bytes.fromhex(wrapped), bytes.fromhex(sealed)
dk = AESGCM(master_keys()[mkid]).decrypt(wrapped[:12], wrapped[12:], subject.encode())
aad = (subject + "|delivery|" + delivery).encode()
print(AESGCM(dk).decrypt(sealed[:12], sealed[12:], aad).decode())
