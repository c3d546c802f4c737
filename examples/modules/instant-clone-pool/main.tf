# One instant-clone pool: its image (published here or passed in), the pool, and any extra
# datastores attached to it.
resource "instantclone_image" "this" {
  count     = var.image == null ? 0 : 1
  name      = var.image.name
  source_vm = var.image.source_vm
  snapshot  = var.image.snapshot
}

locals {
  image_id = var.image == null ? var.image_id : instantclone_image.this[0].id
}

resource "instantclone_pool" "this" {
  name             = var.name
  image_id         = local.image_id
  resource_pool_id = var.resource_pool_id
  datastore_ids    = var.datastore_ids
  size             = var.size
  naming_pattern   = coalesce(var.naming_pattern, "${var.name}-{n}")
  folder           = var.folder
  rebalance        = var.rebalance

  lifecycle {
    precondition {
      condition     = (var.image == null) != (var.image_id == null)
      error_message = "Set exactly one of image (publish an image for this pool) or image_id (use one published elsewhere)."
    }
  }
}

resource "instantclone_pool_datastore" "extra" {
  for_each     = toset(var.extra_datastore_ids)
  pool_id      = instantclone_pool.this.id
  datastore_id = each.value
}

# Read after the attachments, so the outputs show the spread they produced in the same apply
# (the pool resource's own attributes catch up at the next refresh).
data "instantclone_pool" "this" {
  id         = instantclone_pool.this.id
  depends_on = [instantclone_pool_datastore.extra]
}
