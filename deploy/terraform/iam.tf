# Least-privilege IAM for the flow. Identity resources are written in the home region (provider oci.home); the
# policies are attached to the tenancy and each statement is scoped to the compartment and, where a where-clause can
# narrow it, to this bucket or this secret.

locals {
  bucket_compartment = var.compartment_ocid
  # The compartment of the token secret: the given secret's own, or the one the stack creates it in.
  secret_compartment = local.token_mode == "existing-secret" ? one(data.oci_vault_secret.given[*].compartment_id) : var.compartment_ocid
}

# The function's resource principal: this one function, not every function in the compartment.
resource "oci_identity_dynamic_group" "function" {
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = var.dynamic_group_name
  description    = "The ${var.function_name} function (Logz.io audit forwarder)."
  matching_rule  = "ALL {resource.type = 'fnfunc', resource.id = '${oci_functions_function.forwarder.id}'}"
  freeform_tags  = var.freeform_tags
}

resource "oci_identity_policy" "forwarder" {
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = var.policy_name
  description    = "Logz.io audit forwarder: function, connector, Events and lifecycle access to ${var.bucket_name} only."
  freeform_tags  = var.freeform_tags

  statements = [
    # The function reads audit objects, lists them for replays and writes/deletes its progress records.
    "Allow dynamic-group ${oci_identity_dynamic_group.function.name} to manage objects in compartment id ${local.bucket_compartment} where target.bucket.name = '${oci_objectstorage_bucket.audit.name}'",
    # Connector Hub writes the audit objects (statement as documented for an Object Storage target).
    "Allow any-user to manage objects in compartment id ${local.bucket_compartment} where all {request.principal.type = 'serviceconnector', request.principal.compartment.id = '${var.compartment_ocid}', target.bucket.name = '${oci_objectstorage_bucket.audit.name}'}",
    # Object Storage's own principal runs the lifecycle rule.
    "Allow service objectstorage-${var.region} to manage object-family in compartment id ${local.bucket_compartment} where target.bucket.name = '${oci_objectstorage_bucket.audit.name}'",
    # Events invokes the function.
    "Allow service cloudEvents to use functions-family in compartment id ${var.compartment_ocid}",
  ]
}

# Only when the token lives in Vault: the function may read this secret's contents and nothing else in Vault.
data "oci_vault_secret" "given" {
  count     = local.token_mode == "existing-secret" ? 1 : 0
  secret_id = var.logzio_token_secret_ocid
}

resource "oci_identity_policy" "secret" {
  count          = local.token_mode == "config" ? 0 : 1
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = "${var.policy_name}-secret"
  description    = "Logz.io audit forwarder: ${var.function_name} may read its shipping-token secret only."
  freeform_tags  = var.freeform_tags

  statements = [
    "Allow dynamic-group ${oci_identity_dynamic_group.function.name} to read secret-bundles in compartment id ${local.secret_compartment} where target.secret.id = '${local.token_secret_id}'",
  ]
}

# The Functions service attaches the application's endpoints to the subnet.
data "oci_core_subnet" "functions" {
  count     = var.create_functions_service_policy ? 1 : 0
  subnet_id = var.subnet_ocid
}

resource "oci_identity_policy" "functions_network" {
  count          = var.create_functions_service_policy ? 1 : 0
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = "${var.policy_name}-functions-network"
  description    = "Logz.io audit forwarder: the Functions service may use the network of ${var.application_name}'s subnet."
  freeform_tags  = var.freeform_tags

  statements = [
    "Allow service faas to use virtual-network-family in compartment id ${data.oci_core_subnet.functions[0].compartment_id}",
  ]
}

# ---------------------------------------------------------------------------------------------------------------------
# Optional: the seed's OCIR push identity (user "logzio_user" with auth tokens only, group "function_admins"),
# narrowed to pushing this one repository. Generate the auth token in the console: it is shown only once and is
# kept out of the Terraform state that way.
# ---------------------------------------------------------------------------------------------------------------------

resource "oci_artifacts_container_repository" "function" {
  count          = var.create_ocir_push_user ? 1 : 0
  compartment_id = var.compartment_ocid
  display_name   = var.ocir_repository_name
  is_public      = false
  is_immutable   = false
}

resource "oci_identity_user" "ocir" {
  count          = var.create_ocir_push_user ? 1 : 0
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = var.ocir_user_name
  description    = "Pushes the ${var.function_name} image to OCIR (auth token only)."
  email          = var.ocir_user_email != "" ? var.ocir_user_email : null
  freeform_tags  = var.freeform_tags
}

resource "oci_identity_user_capabilities_management" "ocir" {
  count                        = var.create_ocir_push_user ? 1 : 0
  provider                     = oci.home
  user_id                      = oci_identity_user.ocir[0].id
  can_use_api_keys             = false
  can_use_auth_tokens          = true
  can_use_console_password     = false
  can_use_customer_secret_keys = false
  can_use_smtp_credentials     = false
}

resource "oci_identity_group" "ocir" {
  count          = var.create_ocir_push_user ? 1 : 0
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = var.ocir_group_name
  description    = "May push the ${var.function_name} image to OCIR."
  freeform_tags  = var.freeform_tags
}

resource "oci_identity_user_group_membership" "ocir" {
  count    = var.create_ocir_push_user ? 1 : 0
  provider = oci.home
  group_id = oci_identity_group.ocir[0].id
  user_id  = oci_identity_user.ocir[0].id
}

resource "oci_identity_policy" "ocir" {
  count          = var.create_ocir_push_user ? 1 : 0
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = var.ocir_policy_name
  description    = "${var.ocir_group_name} may push the ${var.function_name} image to ${var.ocir_repository_name} only."
  freeform_tags  = var.freeform_tags

  statements = [
    # docker login and fn need the namespace name; it is not scoped any narrower than the tenancy.
    "Allow group ${oci_identity_group.ocir[0].name} to read objectstorage-namespaces in tenancy",
    "Allow group ${oci_identity_group.ocir[0].name} to manage repos in compartment id ${var.compartment_ocid} where target.repo.name = '${oci_artifacts_container_repository.function[0].display_name}'",
  ]
}
