# Every variable validation of the stack rejects a value a user could plausibly type (one run per validation).

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

run "the_defaults_pass" {
  command = plan
}

run "rejects_tenancy_ocid" {
  command = plan
  variables {
    tenancy_ocid = "ocid1.compartment.oc1..notatenancy"
  }
  expect_failures = [var.tenancy_ocid]
}

run "rejects_region" {
  command = plan
  variables {
    region = "AMS"
  }
  expect_failures = [var.region]
}

run "rejects_home_region" {
  command = plan
  variables {
    home_region = "FRA"
  }
  expect_failures = [var.home_region]
}

run "rejects_compartment_ocid" {
  command = plan
  variables {
    compartment_ocid = "ocid1.tenancy.oc1..theroot"
  }
  expect_failures = [var.compartment_ocid]
}

run "rejects_subnet_ocid" {
  command = plan
  variables {
    subnet_ocid = "ocid1.vcn.oc1..notasubnet"
  }
  expect_failures = [var.subnet_ocid]
}

run "rejects_subnet_ocids" {
  command = plan
  variables {
    subnet_ocids = { "FRA" = "ocid1.subnet.oc1.eu-frankfurt-1.mocksubnet" }
  }
  expect_failures = [var.subnet_ocids]
}

run "rejects_regions" {
  command = plan
  variables {
    regions = ["eu-frankfurt-1", "AMS"]
  }
  expect_failures = [var.regions]
}

run "rejects_network_compartment_ocid" {
  command = plan
  variables {
    network_compartment_ocid = "ocid1.vcn.oc1..notacompartment"
  }
  expect_failures = [var.network_compartment_ocid]
}

run "rejects_forwarder_function_ids" {
  command = plan
  variables {
    forwarder_function_ids = ["ocid1.fnapp.oc1.eu-amsterdam-1.notafunction"]
  }
  expect_failures = [var.forwarder_function_ids]
}

run "rejects_logzio_token_secret_region" {
  command = plan
  variables {
    logzio_token_secret_region = "FRA"
  }
  expect_failures = [var.logzio_token_secret_region]
}

run "rejects_reshape" {
  command = plan
  variables {
    reshape = "yes"
  }
  expect_failures = [var.reshape]
}

run "rejects_unwrap" {
  command = plan
  variables {
    unwrap = "true"
  }
  expect_failures = [var.unwrap]
}

run "rejects_bucket_name" {
  command = plan
  variables {
    bucket_name = "audit bucket"
  }
  expect_failures = [var.bucket_name]
}

run "rejects_application_name" {
  command = plan
  variables {
    application_name = "1logzio"
  }
  expect_failures = [var.application_name]
}

run "rejects_function_name" {
  command = plan
  variables {
    function_name = "logzio from bucket"
  }
  expect_failures = [var.function_name]
}

run "rejects_connector_name" {
  command = plan
  variables {
    connector_name = "   "
  }
  expect_failures = [var.connector_name]
}

run "rejects_rule_name" {
  command = plan
  variables {
    rule_name = ""
  }
  expect_failures = [var.rule_name]
}

run "rejects_dynamic_group_name" {
  command = plan
  variables {
    dynamic_group_name = "logzio fn"
  }
  expect_failures = [var.dynamic_group_name]
}

run "rejects_policy_name" {
  command = plan
  variables {
    policy_name = "logzio/policy"
  }
  expect_failures = [var.policy_name]
}

run "rejects_retention_days" {
  command = plan
  variables {
    retention_days = 0
  }
  expect_failures = [var.retention_days]
}

run "rejects_input_prefix" {
  command = plan
  variables {
    input_prefix = "/audit"
  }
  expect_failures = [var.input_prefix]
}

run "rejects_state_prefix" {
  command = plan
  variables {
    state_prefix = "forwarder-state"
  }
  expect_failures = [var.state_prefix]
}

run "rejects_connector_batch_rollover_size_mbs" {
  command = plan
  variables {
    connector_batch_rollover_size_mbs = 500
  }
  expect_failures = [var.connector_batch_rollover_size_mbs]
}

run "rejects_connector_batch_rollover_time_ms" {
  command = plan
  variables {
    connector_batch_rollover_time_ms = 30000
  }
  expect_failures = [var.connector_batch_rollover_time_ms]
}

run "rejects_function_image" {
  command = plan
  variables {
    function_image = "logzio-from-bucket:latest-but-no-registry"
  }
  expect_failures = [var.function_image]
}

run "rejects_application_shape" {
  command = plan
  variables {
    application_shape = "ARM"
  }
  expect_failures = [var.application_shape]
}

run "rejects_function_memory_mb" {
  command = plan
  variables {
    function_memory_mb = 300
  }
  expect_failures = [var.function_memory_mb]
}

run "rejects_function_timeout_seconds" {
  command = plan
  variables {
    function_timeout_seconds = 600
  }
  expect_failures = [var.function_timeout_seconds]
}

run "rejects_deadline_margin_seconds" {
  command = plan
  variables {
    deadline_margin_seconds = 300
  }
  expect_failures = [var.deadline_margin_seconds]
}

run "rejects_batch_max_bytes" {
  command = plan
  variables {
    batch_max_bytes = 20000000
  }
  expect_failures = [var.batch_max_bytes]
}

run "rejects_logzio_region" {
  command = plan
  variables {
    logzio_region = "eu-west"
  }
  expect_failures = [var.logzio_region]
}

run "rejects_logzio_url" {
  command = plan
  variables {
    logzio_url = "https://listener-eu.logz.io:8071/?token=abc"
  }
  expect_failures = [var.logzio_url]
}

run "rejects_logzio_type" {
  command = plan
  variables {
    logzio_type = "http bulk"
  }
  expect_failures = [var.logzio_type]
}

run "rejects_logzio_token" {
  command = plan
  variables {
    logzio_token = "https://listener-eu.logz.io:8071/?token=abc"
  }
  expect_failures = [var.logzio_token]
}

run "rejects_logzio_token_secret_ocid" {
  command = plan
  variables {
    logzio_token_secret_ocid = "ocid1.vault.oc1..notasecret"
  }
  expect_failures = [var.logzio_token_secret_ocid]
}

run "rejects_vault_ocid" {
  command = plan
  variables {
    vault_ocid = "ocid1.key.oc1..notavault"
  }
  expect_failures = [var.vault_ocid]
}

run "rejects_vault_key_ocid" {
  command = plan
  variables {
    vault_key_ocid = "ocid1.vault.oc1..notakey"
  }
  expect_failures = [var.vault_key_ocid]
}

run "rejects_vault_secret_name" {
  command = plan
  variables {
    vault_secret_name = "logzio token"
  }
  expect_failures = [var.vault_secret_name]
}

run "rejects_bucket_kms_key_ocids" {
  command = plan
  variables {
    bucket_kms_key_ocids = { "eu-frankfurt-1" = "ocid1.vault.oc1..notakey" }
  }
  expect_failures = [var.bucket_kms_key_ocids]
}

run "rejects_catch_up" {
  command = plan
  variables {
    catch_up = "yes"
  }
  expect_failures = [var.catch_up]
}

run "rejects_catch_up_after_seconds" {
  command = plan
  variables {
    catch_up_after_seconds = 0
  }
  expect_failures = [var.catch_up_after_seconds]
}

run "rejects_metrics" {
  command = plan
  variables {
    metrics = "true"
  }
  expect_failures = [var.metrics]
}

run "rejects_metrics_namespace" {
  command = plan
  variables {
    metrics_namespace = "oci_logzio"
  }
  expect_failures = [var.metrics_namespace]
}

run "rejects_metrics_compartment_ocid" {
  command = plan
  variables {
    metrics_compartment_ocid = "ocid1.tenancy.oc1..theroot"
  }
  expect_failures = [var.metrics_compartment_ocid]
}

run "rejects_monitoring_endpoint" {
  command = plan
  variables {
    monitoring_endpoint = "http://telemetry-ingestion.eu-amsterdam-1.oraclecloud.com"
  }
  expect_failures = [var.monitoring_endpoint]
}

run "rejects_alarm_email" {
  command = plan
  variables {
    alarm_email = "ops-at-example.com"
  }
  expect_failures = [var.alarm_email]
}

run "rejects_alarm_topic_name" {
  command = plan
  variables {
    alarm_topic_name = "logzio forwarder alarms"
  }
  expect_failures = [var.alarm_topic_name]
}

run "rejects_silence_alarm_minutes" {
  command = plan
  variables {
    silence_alarm_minutes = 90
  }
  expect_failures = [var.silence_alarm_minutes]
}

run "rejects_delivery_lag_alarm_seconds" {
  command = plan
  variables {
    delivery_lag_alarm_seconds = 30
  }
  expect_failures = [var.delivery_lag_alarm_seconds]
}

run "rejects_log_group_name" {
  command = plan
  variables {
    log_group_name = "logzio forwarder"
  }
  expect_failures = [var.log_group_name]
}

run "rejects_function_log_retention_days" {
  command = plan
  variables {
    function_log_retention_days = 45
  }
  expect_failures = [var.function_log_retention_days]
}
