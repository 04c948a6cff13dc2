# Every region of the tenancy, as make apply deploys it: one apply and one state per region (state_key = the region),
# the home region's first, writing the IAM once; the other regions' applies write none; the home region's apply again
# once their functions exist, so that the dynamic group matches every forwarder function. The mock tenancy is
# subscribed to eu-frankfurt-1 (home), eu-amsterdam-1 and eu-zurich-1.

mock_provider "oci" {
  source = "./tests/mocks"
}

mock_provider "oci" {
  alias  = "home"
  source = "./tests/mocks"
}

variables {
  tenancy_ocid     = "ocid1.tenancy.oc1..mocktenancy"
  compartment_ocid = "ocid1.compartment.oc1..mockcompartment"
  regions          = ["eu-frankfurt-1", "eu-amsterdam-1"]
  subnet_ocids = {
    "eu-frankfurt-1" = "ocid1.subnet.oc1.eu-frankfurt-1.mocksubnet"
    "eu-amsterdam-1" = "ocid1.subnet.oc1.eu-amsterdam-1.mocksubnet"
    "eu-zurich-1"    = "ocid1.subnet.oc1.eu-zurich-1.mocksubnet"
  }
  function_image = "{region}.ocir.io/mockns/logzio/logzio-from-bucket:0.1.0"
  logzio_region  = "eu"
  logzio_token   = "mockTOKEN0123456789"
}

run "home_region_first" {
  state_key = "eu-frankfurt-1"
  variables {
    region = "eu-frankfurt-1"
  }
  assert {
    condition     = output.is_home_region && output.regions == tolist(["eu-frankfurt-1", "eu-amsterdam-1"])
    error_message = "eu-frankfurt-1 is the home region, and the regions are the listed two."
  }
  assert {
    condition = [
      length(oci_identity_dynamic_group.function), length(oci_identity_policy.forwarder), length(oci_identity_policy.functions_network),
    ] == [1, 1, 1]
    error_message = "The home region's apply writes the IAM."
  }
  assert {
    condition = [for s in oci_identity_policy.forwarder[0].statements : s if strcontains(s, "objectstorage-")] == [
      "Allow service objectstorage-eu-frankfurt-1 to manage object-family in compartment id ocid1.compartment.oc1..mockcompartment where target.bucket.name = 'logfile_download_bucket'",
      "Allow service objectstorage-eu-amsterdam-1 to manage object-family in compartment id ocid1.compartment.oc1..mockcompartment where target.bucket.name = 'logfile_download_bucket'",
    ]
    error_message = "Each deployed region's Object Storage may run its bucket's lifecycle rule, before that region's apply writes the rule."
  }
  assert {
    condition     = oci_identity_dynamic_group.function[0].matching_rule == "ANY {resource.id = 'ocid1.fnfunc.oc1.eu-frankfurt-1.mockfunction'}"
    error_message = "Before the other regions are applied, the dynamic group matches the home region's function."
  }
  assert {
    condition     = oci_functions_function.forwarder.image == "eu-frankfurt-1.ocir.io/mockns/logzio/logzio-from-bucket:0.1.0" && oci_functions_application.logzio.subnet_ids == tolist(["ocid1.subnet.oc1.eu-frankfurt-1.mocksubnet"])
    error_message = "The function runs its own region's image, on its own region's subnet."
  }
  assert {
    condition     = oci_ons_notification_topic.alarms[0].name == "logzio-forwarder-alarms-eu-frankfurt-1" && oci_monitoring_alarm.forwarding_silent[0].display_name == "logzio-from-bucket (eu-frankfurt-1): no records forwarded"
    error_message = "The region's own topic and alarms, named after the region."
  }
}

run "second_region" {
  state_key = "eu-amsterdam-1"
  variables {
    region = "eu-amsterdam-1"
  }
  override_resource {
    target = oci_functions_function.forwarder
    values = {
      id = "ocid1.fnfunc.oc1.eu-amsterdam-1.mockfunction"
    }
  }
  assert {
    condition     = !output.is_home_region && output.home_region == "eu-frankfurt-1"
    error_message = "eu-amsterdam-1 is not the home region."
  }
  assert {
    condition = (
      length(oci_identity_dynamic_group.function) + length(oci_identity_policy.forwarder) + length(oci_identity_policy.secret) +
      length(oci_identity_policy.functions_network) + length(oci_identity_policy.bucket_key) == 0
    )
    error_message = "Another region's apply writes no IAM: the IAM is written once, by the home region's apply."
  }
  assert {
    condition = (
      oci_objectstorage_bucket.audit.name == "logfile_download_bucket" && oci_sch_service_connector.audit_archive.source[0].log_sources[0].log_group_id == "_Audit_Include_Subcompartment" &&
      oci_events_rule.object_created.is_enabled && oci_logging_log.invocations.is_enabled && length(oci_monitoring_alarm.forwarding_silent) == 1
    )
    error_message = "The second region has its own bucket, connector on its _Audit log, rule, log and alarms."
  }
  assert {
    condition     = oci_functions_function.forwarder.image == "eu-amsterdam-1.ocir.io/mockns/logzio/logzio-from-bucket:0.1.0" && oci_functions_application.logzio.subnet_ids == tolist(["ocid1.subnet.oc1.eu-amsterdam-1.mocksubnet"])
    error_message = "The function runs its own region's image, on its own region's subnet."
  }
  assert {
    condition     = output.function_id != run.home_region_first.function_id && output.bucket_id != run.home_region_first.bucket_id
    error_message = "Every regional resource exists twice: once per region, each in its own state."
  }
  assert {
    condition     = oci_ons_notification_topic.alarms[0].name == "logzio-forwarder-alarms-eu-amsterdam-1" && oci_monitoring_alarm.forwarding_silent[0].display_name == "logzio-from-bucket (eu-amsterdam-1): no records forwarded"
    error_message = "The silence alarm says which region went quiet."
  }
}

run "home_region_again_with_every_function" {
  state_key = "eu-frankfurt-1"
  variables {
    region                 = "eu-frankfurt-1"
    forwarder_function_ids = [run.second_region.function_id]
  }
  assert {
    condition     = oci_identity_dynamic_group.function[0].matching_rule == "ANY {resource.id = 'ocid1.fnfunc.oc1.eu-frankfurt-1.mockfunction', resource.id = 'ocid1.fnfunc.oc1.eu-amsterdam-1.mockfunction'}"
    error_message = "The one dynamic group matches both regions' functions."
  }
  assert {
    condition     = output.bucket_id == run.home_region_first.bucket_id && output.service_connector_id == run.home_region_first.service_connector_id && output.events_rule_id == run.home_region_first.events_rule_id
    error_message = "The home region's own resources stay as they were."
  }
}

run "a_list_without_the_home_region_is_refused" {
  command   = plan
  state_key = "refused"
  variables {
    region  = "eu-amsterdam-1"
    regions = ["eu-amsterdam-1", "eu-zurich-1"]
  }
  expect_failures = [terraform_data.regions]
}

run "a_region_outside_the_list_is_refused" {
  command   = plan
  state_key = "refused"
  variables {
    region = "eu-zurich-1"
  }
  expect_failures = [terraform_data.regions]
}

run "an_unsubscribed_region_is_refused" {
  command   = plan
  state_key = "refused"
  variables {
    region  = "eu-frankfurt-1"
    regions = ["eu-frankfurt-1", "us-ashburn-1"]
  }
  expect_failures = [terraform_data.regions]
}

# A newly subscribed region: the home region's apply grants it, its own apply creates it, and the regions already
# deployed keep every resource (plans: a resource to be replaced would have no id yet, and these conditions would fail).
run "new_region_home_plan" {
  command   = plan
  state_key = "eu-frankfurt-1"
  variables {
    region                 = "eu-frankfurt-1"
    regions                = ["eu-frankfurt-1", "eu-amsterdam-1", "eu-zurich-1"]
    forwarder_function_ids = [run.second_region.function_id]
  }
  assert {
    condition     = contains(oci_identity_policy.forwarder[0].statements, "Allow service objectstorage-eu-zurich-1 to manage object-family in compartment id ocid1.compartment.oc1..mockcompartment where target.bucket.name = 'logfile_download_bucket'")
    error_message = "The home region's apply grants the new region's Object Storage before the new region is applied."
  }
  assert {
    condition = (
      oci_objectstorage_bucket.audit.bucket_id == run.home_region_first.bucket_id && oci_functions_function.forwarder.id == run.home_region_first.function_id &&
      oci_sch_service_connector.audit_archive.id == run.home_region_first.service_connector_id && oci_events_rule.object_created.id == run.home_region_first.events_rule_id &&
      oci_functions_application.logzio.id == run.home_region_first.application_id && oci_logging_log.invocations.id == run.home_region_first.function_log_id &&
      oci_ons_notification_topic.alarms[0].id == run.home_region_first.alarm_topic_id
    )
    error_message = "Adding a region replaces none of the home region's resources."
  }
}

run "new_region_leaves_the_second_region_unchanged" {
  command   = plan
  state_key = "eu-amsterdam-1"
  variables {
    region  = "eu-amsterdam-1"
    regions = ["eu-frankfurt-1", "eu-amsterdam-1", "eu-zurich-1"]
  }
  override_resource {
    target = oci_functions_function.forwarder
    values = {
      id = "ocid1.fnfunc.oc1.eu-amsterdam-1.mockfunction"
    }
  }
  assert {
    condition = (
      oci_objectstorage_bucket.audit.bucket_id == run.second_region.bucket_id && oci_functions_function.forwarder.id == run.second_region.function_id &&
      oci_sch_service_connector.audit_archive.id == run.second_region.service_connector_id && oci_events_rule.object_created.id == run.second_region.events_rule_id &&
      oci_functions_application.logzio.id == run.second_region.application_id && oci_logging_log.invocations.id == run.second_region.function_log_id &&
      oci_ons_notification_topic.alarms[0].id == run.second_region.alarm_topic_id && oci_functions_function.forwarder.image == run.second_region.function_image
    )
    error_message = "Adding a region replaces none of another region's resources, nor changes its function's config."
  }
}

run "new_region_applied" {
  state_key = "eu-zurich-1"
  variables {
    region  = "eu-zurich-1"
    regions = ["eu-frankfurt-1", "eu-amsterdam-1", "eu-zurich-1"]
  }
  override_resource {
    target = oci_functions_function.forwarder
    values = {
      id = "ocid1.fnfunc.oc1.eu-zurich-1.mockfunction"
    }
  }
  assert {
    condition     = oci_functions_function.forwarder.image == "eu-zurich-1.ocir.io/mockns/logzio/logzio-from-bucket:0.1.0" && length(oci_identity_policy.forwarder) == 0
    error_message = "The new region gets its own resources and no IAM of its own."
  }
}

run "new_region_home_again" {
  state_key = "eu-frankfurt-1"
  variables {
    region                 = "eu-frankfurt-1"
    regions                = ["eu-frankfurt-1", "eu-amsterdam-1", "eu-zurich-1"]
    forwarder_function_ids = [run.second_region.function_id, run.new_region_applied.function_id]
  }
  assert {
    condition     = oci_identity_dynamic_group.function[0].matching_rule == "ANY {resource.id = 'ocid1.fnfunc.oc1.eu-frankfurt-1.mockfunction', resource.id = 'ocid1.fnfunc.oc1.eu-amsterdam-1.mockfunction', resource.id = 'ocid1.fnfunc.oc1.eu-zurich-1.mockfunction'}"
    error_message = "The dynamic group matches the new region's function too."
  }
}
