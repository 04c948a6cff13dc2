# Copy to terraform.tfvars (git-ignored) and fill in: the same tenancy, region and compartment as the forwarder stack.
tenancy_ocid     = "ocid1.tenancy.oc1..aaaaaaaaexampletenancy"
region           = "eu-frankfurt-1" # one apply per region: make apply sets it for each
compartment_ocid = "ocid1.compartment.oc1..aaaaaaaaexamplemaintenance"

# Names default to the seed's: logzio_user, function_admins, Functions_Repo_Policy, logzio/logzio-from-bucket.
# ocir_user_email = "ocir-push@example.com"   # tenancies with identity domains may require one
