# The seed's OCIR push identity (user "logzio_user" with auth tokens only, group "function_admins",
# policy "Functions_Repo_Policy"), narrowed to pushing one repository that this stack creates in the forwarder's
# compartment. The repository must exist before the first push: a push to a name that does not exist yet creates
# the repository in the root compartment, outside the policy's compartment.
#
# OCI Functions pulls only from its own region's registry, so every region gets the repository: one apply per region
# (a workspace per region, as the forwarder stack), the home region's apply also writing the identity, which is global
# (the same user and auth token log in to every region's registry).

data "oci_identity_region_subscriptions" "this" {
  tenancy_id = var.tenancy_ocid
}

data "oci_objectstorage_namespace" "this" {
  compartment_id = var.tenancy_ocid
}

locals {
  home_region = var.home_region != "" ? var.home_region : one([
    for subscription in data.oci_identity_region_subscriptions.this.region_subscriptions :
    subscription.region_name if subscription.is_home_region
  ])
  namespace = data.oci_objectstorage_namespace.this.namespace
  is_home   = var.region == local.home_region
  iam_count = local.is_home ? 1 : 0
}

resource "oci_artifacts_container_repository" "function" {
  compartment_id = var.compartment_ocid
  display_name   = var.ocir_repository_name
  is_public      = false
  is_immutable   = false
  freeform_tags  = var.freeform_tags
}

# Generate the auth token in the console (or with the oci CLI) after the apply: it is shown once, and that way it
# never reaches the Terraform state.
resource "oci_identity_user" "ocir" {
  count          = local.iam_count
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = var.ocir_user_name
  description    = "Pushes the Logz.io audit forwarder's image to OCIR (auth token only)."
  email          = var.ocir_user_email != "" ? var.ocir_user_email : null
  freeform_tags  = var.freeform_tags
}

resource "oci_identity_user_capabilities_management" "ocir" {
  count                        = local.iam_count
  provider                     = oci.home
  user_id                      = oci_identity_user.ocir[0].id
  can_use_api_keys             = false
  can_use_auth_tokens          = true
  can_use_console_password     = false
  can_use_customer_secret_keys = false
  can_use_smtp_credentials     = false
}

resource "oci_identity_group" "ocir" {
  count          = local.iam_count
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = var.ocir_group_name
  description    = "May push the Logz.io audit forwarder's image to ${var.ocir_repository_name}."
  freeform_tags  = var.freeform_tags
}

resource "oci_identity_user_group_membership" "ocir" {
  count    = local.iam_count
  provider = oci.home
  group_id = oci_identity_group.ocir[0].id
  user_id  = oci_identity_user.ocir[0].id
}

resource "oci_identity_policy" "ocir" {
  count          = local.iam_count
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = var.ocir_policy_name
  description    = "${var.ocir_group_name} may push the Logz.io audit forwarder's image to ${var.ocir_repository_name} only."
  freeform_tags  = var.freeform_tags

  statements = [
    # docker login and fn need the namespace name; it is not scoped any narrower than the tenancy.
    "Allow group ${oci_identity_group.ocir[0].name} to read objectstorage-namespaces in tenancy",
    "Allow group ${oci_identity_group.ocir[0].name} to manage repos in compartment id ${var.compartment_ocid} where target.repo.name = '${oci_artifacts_container_repository.function.display_name}'",
  ]
}
