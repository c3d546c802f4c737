output "pool_id" {
  value       = instantclone_pool.this.id
  description = "ID of the pool (its VM folder's managed object ID)."
}

output "image_id" {
  value       = local.image_id
  description = "ID of the image the pool runs."
}

output "datastore_distribution" {
  value       = data.instantclone_pool.this.datastore_distribution
  description = "Clones per datastore ID, the attachments included."
}

output "clone_names" {
  value       = [for c in data.instantclone_pool.this.clones : c.name]
  description = "Names of the pool's clones, by number."
}

output "all_datastore_ids" {
  value       = sort(concat(var.datastore_ids, var.extra_datastore_ids))
  description = "The pool's own datastores and the attached ones."
}
