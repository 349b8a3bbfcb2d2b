"""Test setup against a moto server (AWS_ENDPOINT_URL): roles, functions, buckets.

Used by tests/aws_moto.rs and tests/aws_promote.rs; prints JSON results on stdout.
"""
import io
import json
import sys
import zipfile

import boto3


def function_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return 'ok'\n")
    return buf.getvalue()


def role_arn() -> str:
    iam = boto3.client("iam")
    try:
        return iam.get_role(RoleName="pylayer-test")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        return iam.create_role(RoleName="pylayer-test", AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]


def main() -> None:
    cmd, *args = sys.argv[1:]
    lam = boto3.client("lambda")
    if cmd == "create-function":
        name, runtime, arch, *layers = args
        out = lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role_arn(),
            Handler="handler.handler",
            Code={"ZipFile": function_zip()},
            Architectures=[arch],
            Layers=layers,
        )
        print(json.dumps({"arn": out["FunctionArn"]}))
    elif cmd == "layers-of":
        conf = lam.get_function_configuration(FunctionName=args[0])
        print(json.dumps([l["Arn"] for l in conf.get("Layers", [])]))
    elif cmd == "publish-dummy-layer":
        name, runtime, arch = args
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"python/{name}.py", "x = 1\n")
        out = lam.publish_layer_version(
            LayerName=name, Content={"ZipFile": buf.getvalue()}, CompatibleRuntimes=[runtime], CompatibleArchitectures=[arch]
        )
        print(json.dumps({"arn": out["LayerVersionArn"]}))
    elif cmd == "layer-versions":
        out = lam.list_layer_versions(LayerName=args[0])
        print(json.dumps(sorted(v["Version"] for v in out["LayerVersions"])))
    elif cmd == "layer-version":
        name, version, region = args
        out = boto3.client("lambda", region_name=region).get_layer_version(LayerName=name, VersionNumber=int(version))
        print(json.dumps({"arn": out["LayerVersionArn"], "code_sha256": out["Content"]["CodeSha256"]}))
    elif cmd == "layer-versions-in":
        name, region = args
        out = boto3.client("lambda", region_name=region).list_layer_versions(LayerName=name)
        print(json.dumps(sorted(v["Version"] for v in out["LayerVersions"])))
    elif cmd == "layer-policy":
        name, version = args
        out = lam.get_layer_version_policy(LayerName=name, VersionNumber=int(version))
        print(json.dumps(json.loads(out["Policy"])))
    elif cmd == "delete-layer-content":
        # The S3 object tests/aws/moto_server.py serves a layer version's bytes from.
        name, version = args
        boto3.client("s3").delete_object(Bucket="pylayer-moto-layer-content", Key=f"{name}/{version}.zip")
        print("{}")
    elif cmd == "replace-layer-content":
        name, version, text = args
        boto3.client("s3").put_object(Bucket="pylayer-moto-layer-content", Key=f"{name}/{version}.zip", Body=text.encode(), ACL="public-read")
        print("{}")
    elif cmd == "create-bucket":
        boto3.client("s3").create_bucket(Bucket=args[0])
        print("{}")
    elif cmd == "list-objects":
        out = boto3.client("s3").list_objects_v2(Bucket=args[0])
        print(json.dumps([{"key": o["Key"], "size": o["Size"]} for o in out.get("Contents", [])]))
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
