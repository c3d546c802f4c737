data "instantclone_pool" "desktops" {
  name = "desktops"
}

# Clones per datastore, e.g. { "datastore-12" = 20, "datastore-13" = 20 }.
output "spread" {
  value = data.instantclone_pool.desktops.datastore_distribution
}
