# Copy to terraform.tfvars (git-ignored) and fill in; every region's apply reads it (make apply runs one per region).
# Names default to the seed's.
tenancy_ocid     = "ocid1.tenancy.oc1..aaaaaaaaexampletenancy"
region           = "eu-frankfurt-1" # make apply sets it for each region; a plain terraform apply deploys this one
compartment_ocid = "ocid1.compartment.oc1..aaaaaaaaexamplemaintenance"
# Every subscribed region by default; or a list, which must hold the home region:
# regions = ["eu-frankfurt-1", "eu-amsterdam-1"]
# IAM goes to the tenancy's home region, found from its region subscriptions; set home_region only to override.

# Subnets are regional: one per region (or subnet_ocid for a region without an entry).
subnet_ocids = {
  "eu-frankfurt-1" = "ocid1.subnet.oc1.eu-frankfurt-1.aaaaaaaaexampleprivatesubnet"
  "eu-amsterdam-1" = "ocid1.subnet.oc1.eu-amsterdam-1.aaaaaaaaexampleprivatesubnet"
}
# {region} is each apply's region: make deploy pushes the image to every region's registry.
function_image = "{region}.ocir.io/examplens/logzio/logzio-from-bucket:0.1.0"

# The Logz.io account region (or logzio_url = "listener-eu.logz.io:8071", not both).
logzio_region = "eu"

# Token: one of the three ways.
# 1. A new Vault secret made from the token (recommended): the function config holds only the secret OCID.
logzio_token        = "replace-with-the-shipping-token" # or: export TF_VAR_logzio_token=...
create_vault_secret = true
vault_ocid          = "ocid1.vault.oc1.eu-frankfurt-1.aaaaaaaaexamplevault" # a vault in the home region
vault_key_ocid      = "ocid1.key.oc1.eu-frankfurt-1.aaaaaaaaexamplekey"
# 2. An existing secret: drop the four lines above and set
# logzio_token_secret_ocid = "ocid1.vaultsecret.oc1.eu-frankfurt-1.aaaaaaaaexamplesecret"
# 3. The token in the function config (like the seed): set logzio_token only.

retention_days = 3

# Alarms (on by default, in every region) mail here once the address has confirmed each region's subscription.
alarm_email           = "oncall@example.com"
silence_alarm_minutes = 60

freeform_tags = {
  "project" = "logzio-audit-forwarder"
}
