package vsphere

import (
	"os"
	"strconv"
)

// ConfigFromEnv is how the project's tools reach vCenter: the VSPHERE_* variables
// hashicorp/vsphere reads (the simulator's env file writes them).
func ConfigFromEnv() Config {
	insecure, _ := strconv.ParseBool(os.Getenv("VSPHERE_ALLOW_UNVERIFIED_SSL"))
	return Config{
		Server: os.Getenv("VSPHERE_SERVER"), User: os.Getenv("VSPHERE_USER"),
		Password: os.Getenv("VSPHERE_PASSWORD"), Insecure: insecure,
	}
}
