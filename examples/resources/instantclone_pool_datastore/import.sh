# Attachments are imported as POOL_ID/DATASTORE_ID.
terraform import instantclone_pool_datastore.fast group-v123/datastore-21
