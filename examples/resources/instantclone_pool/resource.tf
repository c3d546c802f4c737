resource "instantclone_pool" "desktops" {
  name             = "desktops"
  image_id         = instantclone_image.win11.id
  resource_pool_id = "resgroup-8"                     # data.vsphere_compute_cluster.x.resource_pool_id
  folder           = "pools"                          # the pool lives in /DC0/vm/pools/desktops
  datastore_ids    = ["datastore-12", "datastore-13"] # data.vsphere_datastore.x.id
  size             = 40
  naming_pattern   = "win-{n:fixed=3}" # win-001 ... win-040
  rebalance        = "immediate"

  guestinfo = {
    "pool" = "desktops"
  }

  push_image {
    batch_size          = 5 # at most 5 desktops out of service during a push-image
    stop_on_first_error = false
  }

  timeouts {
    create = "2h"
    update = "2h"
  }
}
