"""moto's server (`python3 -m moto.server` arguments) with one change for pylayer's tests:
a layer version's Content.Location is an HTTP URL its bytes can be read from.

moto 5.2 answers GetLayerVersion with `"Location": "s3://"`, which nothing can read. Real
Lambda answers a pre-signed URL of an S3 object holding the layer's zip. Here the first
GetLayerVersion of a version copies its bytes into an S3 bucket of this same moto server
(`pylayer-moto-layer-content`, key `NAME/VERSION.zip`) and answers that object's
path-style URL on the server (`http://127.0.0.1:PORT/pylayer-moto-layer-content/…`), which
moto's S3 serves to an unsigned GET like a pre-signed URL. The object is written once per
version, so a test can delete or replace it (tests/aws/moto_setup.py `delete-layer-content`,
`replace-layer-content`) to prove that a second run reads pylayer's cache, or that altered
bytes are refused.
"""
import sys

from moto.awslambda import models as lambda_models
from moto.s3.models import get_canned_acl, s3_backends
from moto.server import main

BUCKET = "pylayer-moto-layer-content"


def _argument(flag: str, default: str) -> str:
    args = sys.argv[1:]
    if flag in args and args.index(flag) + 1 < len(args):
        return args[args.index(flag) + 1]
    return default


HOST = _argument("-H", "127.0.0.1")
PORT = _argument("-p", "5000")
_stored: set[str] = set()
_original = lambda_models.LayerVersion.get_layer_version


def get_layer_version(self):  # type: ignore[no-untyped-def]
    answer = _original(self)
    key = f"{self.name}/{self.version}.zip"
    s3 = s3_backends[self.account_id]["aws"]
    if key not in _stored:
        if BUCKET not in s3.buckets:
            s3.create_bucket(BUCKET, self.region)
        s3.put_object(BUCKET, key, self.code_bytes)
        # Readable without a signature, as a pre-signed URL is.
        s3.put_object_acl(BUCKET, key, get_canned_acl("public-read"))
        _stored.add(key)
    answer["Content"]["Location"] = f"http://{HOST}:{PORT}/{BUCKET}/{key}"
    return answer


lambda_models.LayerVersion.get_layer_version = get_layer_version

if __name__ == "__main__":
    main(sys.argv[1:])
