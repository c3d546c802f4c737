package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// tfLogger sends the engine's and the vSphere layer's log lines to tflog, level for level.
type tfLogger struct{}

var _ engine.Logger = tfLogger{}

func (tfLogger) Debug(ctx context.Context, msg string, fields map[string]any) {
	tflog.Debug(ctx, msg, fields)
}

func (tfLogger) Info(ctx context.Context, msg string, fields map[string]any) {
	tflog.Info(ctx, msg, fields)
}

func (tfLogger) Warn(ctx context.Context, msg string, fields map[string]any) {
	tflog.Warn(ctx, msg, fields)
}

func (tfLogger) Error(ctx context.Context, msg string, fields map[string]any) {
	tflog.Error(ctx, msg, fields)
}
