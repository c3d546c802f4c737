# Pools are imported by the managed object ID of their folder.
terraform import instantclone_pool.desktops group-v123
