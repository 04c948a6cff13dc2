# The function config the stack sets beyond the token (token_modes.tftest.hcl): the reshape and unwrap keys only when
# their variables are set, and the connector's rollover that bounds how soon a record can be forwarded.

mock_provider "oci" {
  source = "./tests/mocks"
}

mock_provider "oci" {
  alias  = "home"
  source = "./tests/mocks"
}

variables {
  tenancy_ocid     = "ocid1.tenancy.oc1..mocktenancy"
  region           = "eu-frankfurt-1"
  compartment_ocid = "ocid1.compartment.oc1..mockcompartment"
  subnet_ocid      = "ocid1.subnet.oc1.eu-frankfurt-1.mocksubnet"
  function_image   = "{region}.ocir.io/mockns/logzio/logzio-from-bucket:0.1.0"
  logzio_region    = "eu"
  logzio_token     = "mockTOKEN0123456789"
}

run "defaults" {
  command = plan
  assert {
    condition     = oci_sch_service_connector.audit_archive.target[0].batch_rollover_time_in_ms == 60000
    error_message = "The connector writes an object every minute (OCI's minimum), so a record reaches Logz.io within about two minutes."
  }
  assert {
    condition     = !contains(keys(oci_functions_function.forwarder.config), "reshape") && !contains(keys(oci_functions_function.forwarder.config), "unwrap")
    error_message = "Unset, reshape and unwrap are left to the forwarder's defaults."
  }
  assert {
    condition     = oci_functions_function.forwarder.config["logzio-type"] == "oci-audit"
    error_message = "Every line is filed under the type oci-audit by default."
  }
}

run "reshape_and_unwrap_reach_the_function_config" {
  command = plan
  variables {
    reshape = "off"
    unwrap  = "on"
  }
  assert {
    condition     = oci_functions_function.forwarder.config["reshape"] == "off" && oci_functions_function.forwarder.config["unwrap"] == "on"
    error_message = "The reshape and unwrap variables become the function config keys reshape and unwrap."
  }
}

run "rollover_can_be_traded_back" {
  command = plan
  variables {
    connector_batch_rollover_time_ms = 420000
  }
  assert {
    condition     = oci_sch_service_connector.audit_archive.target[0].batch_rollover_time_in_ms == 420000
    error_message = "connector_batch_rollover_time_ms reaches the connector."
  }
}
