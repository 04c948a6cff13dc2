# OCI Audit logs -> Object Storage -> Events -> Function -> Logz.io, in one region of the tenancy per apply.
# Every subscribed region gets its own apply and its own state (a terraform workspace named after the region, or
# one Resource Manager stack per region); the home region's apply also writes the shared IAM. `make apply` runs them
# all, the home region first. Why this layout: docs/deployment.md, "Every region of the tenancy".

terraform {
  # terraform_data (1.4) holds the region checks; 1.5 is the oldest release the stack is tested against.
  required_version = ">= 1.5.0"

  required_providers {
    oci = {
      source = "oracle/oci"
      # 8.22.0 brought the `actions { action { … } }` block of oci_events_rule (the older inner `actions` block is
      # deprecated since); oci_functions_application.shape needs 5.2.0. Below 9: a major release may break the stack.
      version = ">= 8.22.0, < 9.0.0"
    }
  }
}

# This apply's region: bucket, connector, Functions, Events rule, log, topic, alarms.
provider "oci" {
  tenancy_ocid = var.tenancy_ocid
  region       = var.region
}

# IAM (dynamic group, policies) can only be written in the tenancy's home region: var.home_region, or the region
# the tenancy's region subscriptions mark as home (main.tf, local.home_region). Only the home region's apply writes
# it; the other regions' applies read the shared Vault secret there.
provider "oci" {
  alias        = "home"
  tenancy_ocid = var.tenancy_ocid
  region       = local.home_region
}
