variable "name" {
  type        = string
  description = "Name of the pool (and of its VM folder)."
}

variable "image" {
  type = object({
    name      = string
    source_vm = string # inventory path, vm-42, or data.vsphere_virtual_machine.x.id (the BIOS UUID)
    snapshot  = optional(string)
  })
  default     = null
  description = "An image for this pool to publish. Leave null and set image_id to use one published elsewhere."
}

variable "image_id" {
  type        = string
  default     = null
  description = "ID of an instantclone_image published elsewhere (shared by several pools). Set either this or image."
}

variable "resource_pool_id" {
  type        = string
  description = "Resource pool the clones run in: data.vsphere_compute_cluster.x.resource_pool_id."
}

variable "datastore_ids" {
  type        = list(string)
  description = "The pool's own datastores: data.vsphere_datastore.x.id values."
}

variable "extra_datastore_ids" {
  type        = list(string)
  default     = []
  description = "More datastores, attached with instantclone_pool_datastore (as another team would)."
}

variable "size" {
  type        = number
  description = "Number of clones."
}

variable "naming_pattern" {
  type        = string
  default     = null
  description = "Horizon naming pattern, e.g. win-{n:fixed=3}. Default: <name>-{n}."
}

variable "folder" {
  type        = string
  default     = null
  description = "VM folder the pool's folder goes in. Default: the datacenter's VM folder."
}

variable "rebalance" {
  type        = string
  default     = "immediate"
  description = "immediate or on_provision."
}
