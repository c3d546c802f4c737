import {
  to = instantclone_pool.desktops
  id = "group-v123"
}
