# Publish an image and create a pool of instant clones spread over four datastores.
# `make demo` runs this against the bundled simulator (tools/vcsim), which prints the
# VSPHERE_* and TF_VAR_* settings it needs.
terraform {
  required_providers {
    instantclone = {
      source = "instantclone/instantclone"
    }
  }
}

provider "instantclone" {}

variable "resource_pool_id" {
  type        = string
  description = "Resource pool the clones run in, e.g. resgroup-8."
}

variable "datastore_ids" {
  type        = list(string)
  description = "Datastores the clones are spread over."
}

variable "pool_size" {
  type    = number
  default = 10
}

resource "instantclone_image" "golden" {
  name      = "golden-patched"
  source_vm = "/DC0/vm/golden"
  snapshot  = "patched"
}

resource "instantclone_pool" "desktops" {
  name             = "desktops"
  image_id         = instantclone_image.golden.id
  resource_pool_id = var.resource_pool_id
  datastore_ids    = var.datastore_ids
  size             = var.pool_size
  naming_pattern   = "desk-{n:fixed=2}"
}

output "image" {
  value = {
    id          = instantclone_image.golden.id
    state       = instantclone_image.golden.state
    template_vm = instantclone_image.golden.template_vm_id
  }
}

output "clones_per_datastore" {
  value = instantclone_pool.desktops.datastore_distribution
}

output "clones" {
  value = [for c in instantclone_pool.desktops.clones : "${c.name} ${c.id} on ${c.datastore_id}/${c.host_id}"]
}
