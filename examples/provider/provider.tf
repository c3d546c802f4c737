terraform {
  required_providers {
    instantclone = {
      source = "instantclone/instantclone"
    }
  }
}

# Credentials usually come from VSPHERE_SERVER, VSPHERE_USER and VSPHERE_PASSWORD.
provider "instantclone" {
  vsphere_server = "vcenter.example.com"
  user           = "administrator@vsphere.local"
  password       = var.vsphere_password

  # Horizon's default for concurrent vCenter provisioning operations.
  max_concurrent_operations = 20
}

variable "vsphere_password" {
  type      = string
  sensitive = true
}
