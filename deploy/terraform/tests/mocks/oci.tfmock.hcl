# What OCI would answer, for `terraform test` (mock_provider "oci" { source = "./tests/mocks" }): a tenancy subscribed
# to three regions, eu-frankfurt-1 its home region, and every OCID the tests look for a recognisable stand-in.

mock_data "oci_objectstorage_namespace" {
  defaults = {
    namespace = "mockns"
  }
}

mock_data "oci_identity_region_subscriptions" {
  defaults = {
    region_subscriptions = [
      { region_name = "eu-amsterdam-1", region_key = "AMS", is_home_region = false, state = "READY", tenancy_id = "ocid1.tenancy.oc1..mocktenancy" },
      { region_name = "eu-frankfurt-1", region_key = "FRA", is_home_region = true, state = "READY", tenancy_id = "ocid1.tenancy.oc1..mocktenancy" },
      { region_name = "eu-zurich-1", region_key = "ZRH", is_home_region = false, state = "READY", tenancy_id = "ocid1.tenancy.oc1..mocktenancy" },
    ]
  }
}

mock_data "oci_vault_secret" {
  defaults = {
    compartment_id = "ocid1.compartment.oc1..mocksecrets"
  }
}

# The secret the home region's apply created, as the other regions' applies find it.
mock_data "oci_vault_secrets" {
  defaults = {
    secrets = [{ id = "ocid1.vaultsecret.oc1.eu-frankfurt-1.mockcreatedsecret", secret_name = "logzio-shipping-token" }]
  }
}

mock_data "oci_core_subnet" {
  defaults = {
    compartment_id = "ocid1.compartment.oc1..mocknetwork"
  }
}

mock_resource "oci_functions_function" {
  defaults = {
    id = "ocid1.fnfunc.oc1.eu-frankfurt-1.mockfunction"
  }
}

mock_resource "oci_functions_application" {
  defaults = {
    id = "ocid1.fnapp.oc1.eu-frankfurt-1.mockapplication"
  }
}

mock_resource "oci_vault_secret" {
  defaults = {
    id = "ocid1.vaultsecret.oc1.eu-frankfurt-1.mockcreatedsecret"
  }
}

mock_resource "oci_ons_notification_topic" {
  defaults = {
    id = "ocid1.onstopic.oc1.eu-frankfurt-1.mocktopic"
  }
}
