# Growing past one vCenter: one provider configuration per vCenter (an alias per site), and the
# same module once per site, each publishing its own image from its own golden VM. Each site
# keeps its own state of the same apply; nothing is shared between the vCenters.
terraform {
  required_providers {
    instantclone = {
      source = "instantclone/instantclone"
    }
  }
}

variable "sites" {
  type = map(object({
    vsphere_server       = string
    user                 = string
    allow_unverified_ssl = optional(bool, false)
    source_vm            = string # data.vsphere_virtual_machine.golden.id works as is
    resource_pool_id     = string
    datastore_ids        = list(string)
    size                 = number
  }))
  description = "The two sites, keyed east and west."
}

variable "passwords" {
  type        = map(string)
  sensitive   = true
  description = "vCenter password per site (never logged)."
}

provider "instantclone" {
  alias                = "east"
  vsphere_server       = var.sites["east"].vsphere_server
  user                 = var.sites["east"].user
  password             = var.passwords["east"]
  allow_unverified_ssl = var.sites["east"].allow_unverified_ssl
}

provider "instantclone" {
  alias                = "west"
  vsphere_server       = var.sites["west"].vsphere_server
  user                 = var.sites["west"].user
  password             = var.passwords["west"]
  allow_unverified_ssl = var.sites["west"].allow_unverified_ssl
}

module "east" {
  source    = "../modules/instant-clone-pool"
  providers = { instantclone = instantclone.east }

  name             = "east-desktops"
  image            = { name = "golden-east", source_vm = var.sites["east"].source_vm, snapshot = "patched" }
  resource_pool_id = var.sites["east"].resource_pool_id
  datastore_ids    = var.sites["east"].datastore_ids
  size             = var.sites["east"].size
  naming_pattern   = "east-{n}"
}

module "west" {
  source    = "../modules/instant-clone-pool"
  providers = { instantclone = instantclone.west }

  name             = "west-desktops"
  image            = { name = "golden-west", source_vm = var.sites["west"].source_vm, snapshot = "patched" }
  resource_pool_id = var.sites["west"].resource_pool_id
  datastore_ids    = var.sites["west"].datastore_ids
  size             = var.sites["west"].size
  naming_pattern   = "west-{n}"
}

output "clones_per_datastore" {
  value = {
    east = module.east.datastore_distribution
    west = module.west.datastore_distribution
  }
}

output "clone_names" {
  value = {
    east = module.east.clone_names
    west = module.west.clone_names
  }
}
