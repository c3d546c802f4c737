data "instantclone_image" "current" {
  name = "win11-2026-11"
}

output "template_vm" {
  value = data.instantclone_image.current.template_vm_id
}
