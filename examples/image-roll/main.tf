# Rolling an image update: change the snapshot and apply once. Terraform publishes the new
# image, pushes the pool onto it (clones recreated in batches of 5, names kept), then deletes
# the old image, all in that one apply.
resource "instantclone_image" "win11" {
  name      = "win11"
  source_vm = "/DC0/vm/golden"
  snapshot  = var.snapshot

  lifecycle {
    create_before_destroy = true
  }
}

resource "instantclone_pool" "desktops" {
  name             = "desktops"
  image_id         = instantclone_image.win11.id
  resource_pool_id = var.resource_pool_id
  datastore_ids    = var.datastore_ids
  size             = 40
  naming_pattern   = "win-{n:fixed=3}"

  push_image {
    batch_size = 5
  }
}

variable "snapshot" {
  type    = string
  default = "patched"
}

variable "resource_pool_id" {
  type = string
}

variable "datastore_ids" {
  type = list(string)
}
