# Least-privilege IAM for the flow in every region, written once: by the home region's apply (count =
# local.is_home), with provider oci.home, since IAM writes fail anywhere else. The policies are attached to the
# tenancy; each statement is scoped to the compartment and, where a where-clause can narrow it, to the bucket (the
# same name in every region), the secret, the metric namespace or a key. The other regions' applies write no IAM.

locals {
  iam_count          = local.is_home ? 1 : 0
  bucket_compartment = var.compartment_ocid
  # Every forwarder function: this region's and those of the other regions' applies (their function_id outputs).
  function_ids = distinct(concat([oci_functions_function.forwarder.id], var.forwarder_function_ids))
  # The compartment of the token secret: the given secret's own, or the one the stack creates it in.
  secret_compartment = local.token_mode == "existing-secret" ? one(data.oci_vault_secret.given[*].compartment_id) : var.compartment_ocid
  # Where the function posts its metrics: the metrics-compartment-id it is given, else its own compartment.
  metrics_compartment = var.metrics_compartment_ocid != "" ? var.metrics_compartment_ocid : var.compartment_ocid
  # Every local is evaluated in every region's apply: the statements name the group by its variable, and the policies
  # depend on the group explicitly.
  dynamic_group     = var.dynamic_group_name
  metrics_statement = "Allow dynamic-group ${local.dynamic_group} to use metrics in compartment id ${local.metrics_compartment} where target.metrics.namespace = '${var.metrics_namespace}'"
  # The subnets' compartment: network_compartment_ocid, else that of the home region's subnet.
  network_compartment = var.network_compartment_ocid != "" ? var.network_compartment_ocid : one(data.oci_core_subnet.functions[*].compartment_id)
}

# The functions' resource principals: exactly the forwarder functions, one per region, not every function in the
# compartment.
resource "oci_identity_dynamic_group" "function" {
  count          = local.iam_count
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = var.dynamic_group_name
  description    = "The ${var.function_name} functions (Logz.io audit forwarder), one per region."
  matching_rule  = "ANY {${join(", ", [for id in local.function_ids : "resource.id = '${id}'"])}}"
  freeform_tags  = var.freeform_tags
}

resource "oci_identity_policy" "forwarder" {
  count          = local.iam_count
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = var.policy_name
  description    = "Logz.io audit forwarder: functions, connectors, Events and lifecycle access to ${var.bucket_name} only, in ${join(", ", local.regions)}."
  freeform_tags  = var.freeform_tags

  statements = concat([
    # The functions read audit objects, list them for replays and write/delete their progress records.
    "Allow dynamic-group ${local.dynamic_group} to manage objects in compartment id ${local.bucket_compartment} where target.bucket.name = '${oci_objectstorage_bucket.audit.name}'",
    # Connector Hub writes the audit objects (statement as documented for an Object Storage target).
    "Allow any-user to manage objects in compartment id ${local.bucket_compartment} where all {request.principal.type = 'serviceconnector', request.principal.compartment.id = '${var.compartment_ocid}', target.bucket.name = '${oci_objectstorage_bucket.audit.name}'}",
    ],
    # Each region's Object Storage principal runs its bucket's lifecycle rule.
    [for region in local.regions : "Allow service objectstorage-${region} to manage object-family in compartment id ${local.bucket_compartment} where target.bucket.name = '${oci_objectstorage_bucket.audit.name}'"],
    [
      # Events invokes the functions.
      "Allow service cloudEvents to use functions-family in compartment id ${var.compartment_ocid}",
    ],
    # The functions post their metrics (PostMetricData) to their own namespace only.
    var.metrics != "off" ? [local.metrics_statement] : [],
  )

  depends_on = [oci_identity_dynamic_group.function]
}

# Only when the token lives in Vault: the functions may read this secret's contents and nothing else in Vault.
data "oci_vault_secret" "given" {
  count     = local.token_mode == "existing-secret" && local.is_home ? 1 : 0
  provider  = oci.home
  secret_id = var.logzio_token_secret_ocid
}

resource "oci_identity_policy" "secret" {
  count          = local.token_mode != "config" ? local.iam_count : 0
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = "${var.policy_name}-secret"
  description    = "Logz.io audit forwarder: the ${var.function_name} functions may read their shipping-token secret only."
  freeform_tags  = var.freeform_tags

  statements = [
    "Allow dynamic-group ${local.dynamic_group} to read secret-bundles in compartment id ${local.secret_compartment} where target.secret.id = '${local.token_secret_id}'",
  ]

  depends_on = [oci_identity_dynamic_group.function]
}

# The Functions service attaches each application's endpoints to its region's subnet.
data "oci_core_subnet" "functions" {
  count     = var.create_functions_service_policy && var.network_compartment_ocid == "" ? local.iam_count : 0
  subnet_id = local.subnet_id
}

resource "oci_identity_policy" "functions_network" {
  count          = var.create_functions_service_policy ? local.iam_count : 0
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = "${var.policy_name}-functions-network"
  description    = "Logz.io audit forwarder: the Functions service may use the network of ${var.application_name}'s subnets."
  freeform_tags  = var.freeform_tags

  statements = [
    "Allow service faas to use virtual-network-family in compartment id ${local.network_compartment}",
  ]
}

# Only with customer-managed keys for the buckets: each region's Object Storage principal may use its region's one
# key. The keys' compartments are not known to the stack, so each statement is narrowed by the key's OCID instead.
resource "oci_identity_policy" "bucket_key" {
  count          = length(var.bucket_kms_key_ocids) > 0 ? local.iam_count : 0
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = "${var.policy_name}-bucket-key"
  description    = "Logz.io audit forwarder: Object Storage may encrypt ${var.bucket_name} with its customer-managed key in ${join(", ", sort(keys(var.bucket_kms_key_ocids)))}."
  freeform_tags  = var.freeform_tags

  statements = [
    for region, key in var.bucket_kms_key_ocids : "Allow service objectstorage-${region} to use keys in tenancy where target.key.id = '${key}'"
  ]
}
