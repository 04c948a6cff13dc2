# The Events rule as rendered: Object-Create events of this bucket and compartment, under the input prefix only.

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

run "condition_matches_new_objects_under_the_input_prefix" {
  assert {
    condition = jsondecode(oci_events_rule.object_created.condition) == {
      eventType = ["com.oraclecloud.objectstorage.createobject"]
      data = {
        compartmentId     = ["ocid1.compartment.oc1..mockcompartment"]
        resourceName      = ["audit*"]
        additionalDetails = { bucketName = ["logfile_download_bucket"] }
      }
    }
    error_message = "The rule's condition is not createobject in this bucket and compartment under audit*."
  }
  # Events' "*" as a regular expression: a connector object matches, the forwarder's progress object for it does not.
  assert {
    condition     = can(regex("^${replace(jsondecode(oci_events_rule.object_created.condition).data.resourceName[0], "*", ".*")}$", "audit/ocid1.serviceconnector.oc1.eu-amsterdam-1.x/20261101T095300Z_20261101T100000Z.0.log.gz"))
    error_message = "A connector object under the input prefix must match the rule."
  }
  assert {
    condition     = !can(regex("^${replace(jsondecode(oci_events_rule.object_created.condition).data.resourceName[0], "*", ".*")}$", "forwarder-state/audit/ocid1.serviceconnector.oc1.eu-amsterdam-1.x/20261101T095300Z_20261101T100000Z.0.log.gz"))
    error_message = "The forwarder's own progress objects must not match the rule (each would cost an invocation)."
  }
  assert {
    condition     = one(oci_events_rule.object_created.actions[0].action).action_type == "FAAS" && one(oci_events_rule.object_created.actions[0].action).function_id == "ocid1.fnfunc.oc1.eu-frankfurt-1.mockfunction"
    error_message = "The rule's one action must invoke the function."
  }
  assert {
    condition     = oci_events_rule.object_created.is_enabled && one(oci_events_rule.object_created.actions[0].action).is_enabled
    error_message = "The rule and its action must be enabled."
  }
}

run "condition_follows_a_custom_input_prefix" {
  variables {
    input_prefix = "audit-logs/"
    state_prefix = "progress/"
  }
  assert {
    condition     = jsondecode(oci_events_rule.object_created.condition).data.resourceName == ["audit-logs/*"]
    error_message = "The rule must follow input_prefix."
  }
  assert {
    condition     = oci_sch_service_connector.audit_archive.target[0].object_name_prefix == "audit-logs/" && oci_functions_function.forwarder.config["input-prefix"] == "audit-logs/"
    error_message = "The connector's prefix, the function's input-prefix and the rule must agree."
  }
}
