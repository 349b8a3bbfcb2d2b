"""A CDK (Python) app whose layer is pylayer's zip.

Build the layer first (in this directory):
    pylayer build -r requirements.txt --python 3.12 --arch x86_64 --name deps
The asset hash is the manifest's sha256 of the zip: pylayer's zips are reproducible, so CDK
uploads and publishes a new layer version only when the layer's content changed.
"""

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

HERE = Path(__file__).parent
MANIFEST = json.loads((HERE / "dist" / "deps-py3.12-x86_64.json").read_text())


class LayerStack(cdk.Stack):
    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        layer = lambda_.LayerVersion(
            self,
            "Deps",
            code=lambda_.Code.from_asset(
                str(HERE / "dist" / MANIFEST["zip"]),
                asset_hash=MANIFEST["sha256"],
                asset_hash_type=cdk.AssetHashType.CUSTOM,
            ),
            compatible_runtimes=[lambda_.Runtime(MANIFEST["runtime"], lambda_.RuntimeFamily.PYTHON)],
            compatible_architectures=[
                lambda_.Architecture.ARM_64
                if MANIFEST["architecture"] == "arm64"
                else lambda_.Architecture.X86_64
            ],
        )
        lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
            handler="index.handler",
            code=lambda_.Code.from_inline(
                "import ldap3\ndef handler(event, context):\n    return ldap3.__version__\n"
            ),
            layers=[layer],
        )


app = cdk.App()
LayerStack(app, "PylayerExample")
app.synth()
