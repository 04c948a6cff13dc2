# OCI Audit logs -> Object Storage -> Events -> Function -> Logz.io, as one Terraform stack.
# Usable from the terraform CLI (with ~/.oci/config) and as an OCI Resource Manager stack (`make stack`).

terraform {
  # Preconditions (lifecycle.precondition) need Terraform 1.2 or later.
  required_version = ">= 1.2.0"

  required_providers {
    oci = {
      source  = "oracle/oci"
      version = ">= 5.0.0"
    }
  }
}

# Regional resources: bucket, connector, Functions, Events rule, Vault secret.
provider "oci" {
  tenancy_ocid = var.tenancy_ocid
  region       = var.region
}

# IAM (dynamic group, policies, the optional OCIR user and group) can only be written in the home region.
provider "oci" {
  alias        = "home"
  tenancy_ocid = var.tenancy_ocid
  region       = local.home_region
}
