package provider

import (
	"context"
	"sync"
	"time"

	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// Sessions opened by Configure, logged out when the provider process stops.
var (
	sessionsMu sync.Mutex
	sessions   []*vsphere.Client
)

func track(c *vsphere.Client) {
	sessionsMu.Lock()
	sessions = append(sessions, c)
	sessionsMu.Unlock()
}

// Close logs out of every vCenter session the provider opened.
func Close() {
	sessionsMu.Lock()
	defer sessionsMu.Unlock()
	for _, c := range sessions {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = c.Logout(ctx)
		cancel()
	}
	sessions = nil
}
