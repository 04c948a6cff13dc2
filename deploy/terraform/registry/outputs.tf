output "image_repository" {
  description = "Where to push the image in this region; the forwarder stack's function_image is image_repository_template plus a tag, e.g. :0.1.0."
  value       = "${var.region}.ocir.io/${local.namespace}/${oci_artifacts_container_repository.function.display_name}"
}

output "image_repository_template" {
  description = "The repository in every region, {region} standing for the region: the forwarder stack's function_image is this plus a tag."
  value       = "{region}.ocir.io/${local.namespace}/${oci_artifacts_container_repository.function.display_name}"
}

output "docker_login_user" {
  description = "User name for docker login (the password is an auth token generated for the user)."
  value       = "${local.namespace}/${var.ocir_user_name}"
}

output "ocir_user_id" {
  description = "OCID of the push user (oci iam auth-token create --user-id <this> prints a token once); null outside the home region."
  value       = one(oci_identity_user.ocir[*].id)
}

output "home_region" {
  description = "The region the user, group and policy were written in (the tenancy's home region)."
  value       = local.home_region
}
