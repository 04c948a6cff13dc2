# OCI Audit logs -> Object Storage -> Events -> Function -> Logz.io, as one Terraform stack.
# Usable from the terraform CLI (with ~/.oci/config) and as an OCI Resource Manager stack (`make stack`).

terraform {
  # Preconditions (lifecycle.precondition) need Terraform 1.2 or later.
  required_version = ">= 1.2.0"

  required_providers {
    oci = {
      source = "oracle/oci"
      # 8.22.0 brought the `actions { action { … } }` block of oci_events_rule (the older inner `actions` block is
      # deprecated since); oci_functions_application.shape needs 5.2.0. Below 9: a major release may break the stack.
      version = ">= 8.22.0, < 9.0.0"
    }
  }
}

# Regional resources: bucket, connector, Functions, Events rule, Vault secret, alarms.
provider "oci" {
  tenancy_ocid = var.tenancy_ocid
  region       = var.region
}

# IAM (dynamic group, policies) can only be written in the tenancy's home region: var.home_region, or the region
# the tenancy's region subscriptions mark as home (main.tf, local.home_region).
provider "oci" {
  alias        = "home"
  tenancy_ocid = var.tenancy_ocid
  region       = local.home_region
}
