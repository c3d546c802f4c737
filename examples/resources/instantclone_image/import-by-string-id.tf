import {
  to = instantclone_image.win11
  id = "img-0123456789"
}
