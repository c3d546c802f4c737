package engine

import "context"

// Push-image: every clone not made from the pool's target image (under its push token) is
// recreated from it, keeping its name, with at most batch_size clones out of service at once.
// The pool's record keeps pending_image_id until every clone runs the new image, so a push
// cut short is finished by the next apply, which recreates only the clones still stale.

// generation is what a clone must have been made from: an image, under a push token.
type generation struct{ image, token string }

func (g generation) of(c Clone) bool { return c.ImageID == g.image && c.PushToken == g.token }

// serviceWindow bounds the clones out of service at once: a clone being recreated is out of
// service from its removal until its replacement runs. Creating a missing clone takes nothing
// out of service and needs no place in the window.
type serviceWindow chan struct{}

func newServiceWindow(batch int) serviceWindow { return make(serviceWindow, batch) }

// enter waits for a place in the window, or fails with ctx's error.
func (w serviceWindow) enter(ctx context.Context) error {
	select {
	case w <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w serviceWindow) leave() { <-w }
