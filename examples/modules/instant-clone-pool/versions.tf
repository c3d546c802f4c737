terraform {
  required_version = ">= 1.5"
  required_providers {
    instantclone = {
      source = "instantclone/instantclone"
    }
  }
}
