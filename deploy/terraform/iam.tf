# Least-privilege IAM for the flow. Identity resources are written in the home region (provider oci.home); the
# policies are attached to the tenancy and each statement is scoped to the compartment and, where a where-clause can
# narrow it, to this bucket, this secret, this metric namespace or this key.

locals {
  bucket_compartment = var.compartment_ocid
  # The compartment of the token secret: the given secret's own, or the one the stack creates it in.
  secret_compartment = local.token_mode == "existing-secret" ? one(data.oci_vault_secret.given[*].compartment_id) : var.compartment_ocid
  # Where the function posts its metrics: the metrics-compartment-id it is given, else its own compartment.
  metrics_compartment = var.metrics_compartment_ocid != "" ? var.metrics_compartment_ocid : var.compartment_ocid
  metrics_statement   = "Allow dynamic-group ${oci_identity_dynamic_group.function.name} to use metrics in compartment id ${local.metrics_compartment} where target.metrics.namespace = '${var.metrics_namespace}'"
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

  statements = concat([
    # The function reads audit objects, lists them for replays and writes/deletes its progress records.
    "Allow dynamic-group ${oci_identity_dynamic_group.function.name} to manage objects in compartment id ${local.bucket_compartment} where target.bucket.name = '${oci_objectstorage_bucket.audit.name}'",
    # Connector Hub writes the audit objects (statement as documented for an Object Storage target).
    "Allow any-user to manage objects in compartment id ${local.bucket_compartment} where all {request.principal.type = 'serviceconnector', request.principal.compartment.id = '${var.compartment_ocid}', target.bucket.name = '${oci_objectstorage_bucket.audit.name}'}",
    # Object Storage's own principal runs the lifecycle rule.
    "Allow service objectstorage-${var.region} to manage object-family in compartment id ${local.bucket_compartment} where target.bucket.name = '${oci_objectstorage_bucket.audit.name}'",
    # Events invokes the function.
    "Allow service cloudEvents to use functions-family in compartment id ${var.compartment_ocid}",
    ],
    # The function posts its metrics (PostMetricData) to its own namespace only.
    var.metrics != "off" ? [local.metrics_statement] : [],
  )
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

# Only with a customer-managed key for the bucket: Object Storage (this region's service principal) may use that one
# key. The key's compartment is not known to the stack, so the statement is narrowed by the key's OCID instead.
resource "oci_identity_policy" "bucket_key" {
  count          = var.bucket_kms_key_ocid != "" ? 1 : 0
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = "${var.policy_name}-bucket-key"
  description    = "Logz.io audit forwarder: Object Storage may encrypt ${var.bucket_name} with its customer-managed key."
  freeform_tags  = var.freeform_tags

  statements = [
    "Allow service objectstorage-${var.region} to use keys in tenancy where target.key.id = '${var.bucket_kms_key_ocid}'",
  ]
}
