# Images are imported by their ID.
terraform import instantclone_image.win11 img-0123456789
