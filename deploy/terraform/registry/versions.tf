# The registry identity for the forwarder's image, as a stack of its own: apply it first, push the image, then apply
# the forwarder stack (../) with function_image set. Why a stack of its own: docs/deployment.md, "1. Build and push".

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    oci = {
      source  = "oracle/oci"
      version = ">= 8.22.0, < 9.0.0"
    }
  }
}

# The repository lives in the region the function runs in.
provider "oci" {
  tenancy_ocid = var.tenancy_ocid
  region       = var.region
}

# The user, group and policy can only be written in the tenancy's home region.
provider "oci" {
  alias        = "home"
  tenancy_ocid = var.tenancy_ocid
  region       = local.home_region
}
