# The demo's configuration: each step of tools/demo/run.sh applies it with other variables.
terraform {
  required_providers {
    instantclone = {
      source = "instantclone/instantclone"
    }
  }
}

provider "instantclone" {} # VSPHERE_* from the simulator

variable "resource_pool_id" {
  type = string
}

variable "datastore_ids" {
  type        = list(string)
  description = "The simulator's datastores: the pool uses the first two, the attachment the third."
}

variable "snapshot" {
  type    = string
  default = "base"
}

variable "with_pool" {
  type    = bool
  default = false
}

variable "attach_third" {
  type    = bool
  default = false
}

resource "instantclone_image" "golden" {
  name      = "golden-${var.snapshot}"
  source_vm = "/DC0/vm/golden"
  snapshot  = var.snapshot

  lifecycle {
    create_before_destroy = true # push-image: the new image first, the old one after
  }
}

resource "instantclone_pool" "desktops" {
  count            = var.with_pool ? 1 : 0
  name             = "desktops"
  image_id         = instantclone_image.golden.id
  resource_pool_id = var.resource_pool_id
  datastore_ids    = slice(var.datastore_ids, 0, 2)
  size             = 8
  naming_pattern   = "desk-{n:fixed=2}"

  push_image {
    batch_size = 3
  }
}

resource "instantclone_pool_datastore" "third" {
  count        = var.with_pool && var.attach_third ? 1 : 0
  pool_id      = instantclone_pool.desktops[0].id
  datastore_id = var.datastore_ids[2]
  rebalance    = "immediate"
}

output "image_id" {
  value = instantclone_image.golden.id
}

output "template_vm_id" {
  value = instantclone_image.golden.template_vm_id
}
