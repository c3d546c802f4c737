# The storage team's module: attach a new datastore to pools that the desktop team's module
# owns. The pools' own datastore_ids never plan to remove it; their all_datastore_ids show it.
variable "pools" {
  type        = set(string)
  description = "Names of the pools to attach the datastore to."
}

variable "datastore_id" {
  type = string
}

data "instantclone_pool" "target" {
  for_each = var.pools
  name     = each.value
}

resource "instantclone_pool_datastore" "new_storage" {
  for_each     = data.instantclone_pool.target
  pool_id      = each.value.id
  datastore_id = var.datastore_id
  rebalance    = "immediate"
}
