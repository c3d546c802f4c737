# Publish the "patched" snapshot of the golden VM as an image.
resource "instantclone_image" "win11" {
  name      = "win11-2026-11"
  source_vm = "/DC0/vm/golden" # or a managed object ID such as "vm-42"
  snapshot  = "patched"        # omit to use the VM's current snapshot
}
