# The registry stack as rendered: in every region's apply the repository in the forwarder's compartment before the
# first push; in the home region's also a push user with auth tokens only and a policy for that one repository.

mock_provider "oci" {
  source = "../tests/mocks"
}

mock_provider "oci" {
  alias  = "home"
  source = "../tests/mocks"
}

variables {
  tenancy_ocid     = "ocid1.tenancy.oc1..mocktenancy"
  region           = "eu-frankfurt-1"
  compartment_ocid = "ocid1.compartment.oc1..mockcompartment"
}

run "push_identity_for_one_repository" {
  state_key = "eu-frankfurt-1"
  assert {
    condition     = oci_artifacts_container_repository.function.compartment_id == "ocid1.compartment.oc1..mockcompartment" && oci_artifacts_container_repository.function.display_name == "logzio/logzio-from-bucket" && !oci_artifacts_container_repository.function.is_public
    error_message = "The repository is private and created in the forwarder's compartment (not by the first push, in the root)."
  }
  assert {
    condition = oci_identity_policy.ocir[0].statements == tolist([
      "Allow group function_admins to read objectstorage-namespaces in tenancy",
      "Allow group function_admins to manage repos in compartment id ocid1.compartment.oc1..mockcompartment where target.repo.name = 'logzio/logzio-from-bucket'",
    ])
    error_message = "The push group may manage only this repository, in the forwarder's compartment."
  }
  assert {
    condition = [
      oci_identity_user_capabilities_management.ocir[0].can_use_api_keys,
      oci_identity_user_capabilities_management.ocir[0].can_use_auth_tokens,
      oci_identity_user_capabilities_management.ocir[0].can_use_console_password,
      oci_identity_user_capabilities_management.ocir[0].can_use_customer_secret_keys,
      oci_identity_user_capabilities_management.ocir[0].can_use_smtp_credentials,
    ] == [false, true, false, false, false]
    error_message = "The push user may use auth tokens only."
  }
  assert {
    condition     = oci_identity_user.ocir[0].name == "logzio_user" && oci_identity_group.ocir[0].name == "function_admins" && oci_identity_policy.ocir[0].name == "Functions_Repo_Policy"
    error_message = "Names default to the seed's."
  }
  assert {
    condition     = output.image_repository == "eu-frankfurt-1.ocir.io/mockns/logzio/logzio-from-bucket" && output.image_repository_template == "{region}.ocir.io/mockns/logzio/logzio-from-bucket" && output.docker_login_user == "mockns/logzio_user"
    error_message = "The outputs say where to push (in this region and in every region) and whom to log in as."
  }
  assert {
    condition     = output.home_region == "eu-frankfurt-1"
    error_message = "The identity resources go to the tenancy's home region."
  }
}

run "another_region_gets_the_repository_and_no_identity" {
  state_key = "eu-amsterdam-1"
  variables {
    region = "eu-amsterdam-1"
  }
  assert {
    condition     = oci_artifacts_container_repository.function.display_name == "logzio/logzio-from-bucket" && output.image_repository == "eu-amsterdam-1.ocir.io/mockns/logzio/logzio-from-bucket"
    error_message = "Every region gets the repository: OCI Functions pulls only from its own region's registry."
  }
  assert {
    condition     = length(oci_identity_user.ocir) + length(oci_identity_group.ocir) + length(oci_identity_policy.ocir) + length(oci_identity_user_group_membership.ocir) + length(oci_identity_user_capabilities_management.ocir) == 0 && output.ocir_user_id == null
    error_message = "The push identity is global: only the home region's apply writes it."
  }
}

run "rejects_a_root_compartment" {
  command = plan
  variables {
    compartment_ocid = "ocid1.tenancy.oc1..mocktenancy"
  }
  expect_failures = [var.compartment_ocid]
}

run "rejects_tenancy_ocid" {
  command = plan
  variables {
    tenancy_ocid = "ocid1.compartment.oc1..mockcompartment"
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

run "rejects_ocir_repository_name" {
  command = plan
  variables {
    ocir_repository_name = "Logzio/Forwarder"
  }
  expect_failures = [var.ocir_repository_name]
}
