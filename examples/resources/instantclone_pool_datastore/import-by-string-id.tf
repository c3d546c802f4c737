import {
  to = instantclone_pool_datastore.fast
  id = "group-v123/datastore-21"
}
