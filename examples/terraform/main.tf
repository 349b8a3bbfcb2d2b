# A layer version from pylayer's zip. Build it first (in this directory):
#   pylayer build -r requirements.txt --python 3.12 --arch x86_64 --name deps
# source_code_hash is the manifest's CodeSha256 (base64 sha256 of the zip, what Lambda shows),
# and pylayer's zips are byte-for-byte reproducible: Terraform plans a new layer version only
# when the layer's content really changed, not on every rebuild.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

locals {
  layer_manifest = jsondecode(file("${path.module}/dist/deps-py3.12-x86_64.json"))
}

resource "aws_lambda_layer_version" "deps" {
  layer_name               = "deps"
  filename                 = "${path.module}/dist/${local.layer_manifest.zip}"
  source_code_hash         = local.layer_manifest.code_sha256
  compatible_runtimes      = [local.layer_manifest.runtime]
  compatible_architectures = [local.layer_manifest.architecture]
}

output "layer_version_arn" {
  value = aws_lambda_layer_version.deps.arn
}
