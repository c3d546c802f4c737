# The storage team attaches its new datastore to a pool that another module owns.
data "instantclone_pool" "desktops" {
  name = "desktops"
}

resource "instantclone_pool_datastore" "fast" {
  pool_id      = data.instantclone_pool.desktops.id
  datastore_id = "datastore-21"
  rebalance    = "immediate" # move the fewest clones now; "on_provision" only steers new clones
}
