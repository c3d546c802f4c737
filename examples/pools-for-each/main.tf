# Several pools from one module with for_each: one image published once and passed in, a pool
# per team, and one team's pool spread over an extra datastore attached to it.
terraform {
  required_providers {
    instantclone = {
      source = "instantclone/instantclone"
    }
  }
}

provider "instantclone" {} # VSPHERE_SERVER, VSPHERE_USER, VSPHERE_PASSWORD

variable "source_vm" {
  type        = string
  default     = "/DC0/vm/golden"
  description = "The golden VM: a path, vm-42, or data.vsphere_virtual_machine.golden.id (its BIOS UUID)."
}

variable "resource_pool_id" {
  type        = string
  description = "data.vsphere_compute_cluster.c.resource_pool_id"
}

variable "datastore_ids" {
  type        = list(string)
  description = "data.vsphere_datastore.x.id values the pools share."
}

variable "pools" {
  type = map(object({
    size                = number
    naming_pattern      = optional(string)
    extra_datastore_ids = optional(list(string), [])
  }))
  default = {
    sales = { size = 3 }
    eng   = { size = 2, naming_pattern = "eng-{n:fixed=2}" }
  }
  description = "One pool per key."
}

resource "instantclone_image" "golden" {
  name      = "golden-patched"
  source_vm = var.source_vm
  snapshot  = "patched"
}

module "pool" {
  source   = "../modules/instant-clone-pool"
  for_each = var.pools

  name                = each.key
  image_id            = instantclone_image.golden.id
  resource_pool_id    = var.resource_pool_id
  datastore_ids       = var.datastore_ids
  extra_datastore_ids = each.value.extra_datastore_ids
  size                = each.value.size
  naming_pattern      = each.value.naming_pattern
}

output "clones_per_datastore" {
  value = { for name, pool in module.pool : name => pool.datastore_distribution }
}

output "clone_names" {
  value = { for name, pool in module.pool : name => pool.clone_names }
}
